// Active health checks, the circuit breaker, outlier ejection and the retry budget on real SDK servers.
import { ConsecutiveBreaker } from 'cockatiel'
import { afterEach, describe, expect, it } from 'vitest'
import { createClientPool } from '../../src/index.js'
import type { BreakerEventDetail, ClientPool, ClientPoolInit } from '../../src/index.js'
import { nextEvent, Replica } from '../replica.js'

let pool: ClientPool | undefined
let replicas: Replica[] = []

afterEach(async () => {
  await pool?.close()
  for (const r of replicas) await r.close()
  pool = undefined
  replicas = []
})

function setup (init: ClientPoolInit, delayMs = 1): ClientPool {
  replicas = ['a', 'b', 'c'].map((id) => new Replica({ id, delayMs }))
  pool = createClientPool({ endpoints: replicas.map((r) => r.spec), balancer: 'round-robin', ...init })
  return pool
}

/** Calls until `event` has fired (each call takes a few ms on the replica), at most `max` calls. */
async function callUntil (pool: ClientPool, event: Promise<unknown>, max = 2_000): Promise<void> {
  let fired = false
  void event.then(() => { fired = true }, () => {})
  for (let i = 0; i < max && !fired; i++) await pool.callTool({ name: 'add', arguments: { a: 1, b: 1 } }).catch(() => {})
  await event
}

describe('active health checks', () => {
  it('mark a hung replica unhealthy, route around it, and bring it back when it answers again (twice)', async () => {
    const pool = setup({ healthCheck: { intervalMs: 15, timeoutMs: 60, unhealthyThreshold: 3, healthyThreshold: 2 }, outlierDetection: false, circuitBreaker: false })
    const b = replicas[1]!
    for (let round = 0; round < 2; round++) {
      const unhealthy = nextEvent(pool, 'endpoint:unhealthy', (d: { id: string }) => d.id === 'b')
      b.blackhole = true
      await unhealthy
      expect(pool.stats().endpoints.find((e) => e.id === 'b')!.state).toBe('unhealthy')
      const before = b.calls()
      for (let i = 0; i < 30; i++) await pool.callTool({ name: 'echo', arguments: { text: 'x' } })
      expect(b.calls()).toBe(before)
      const healthy = nextEvent(pool, 'endpoint:healthy', (d: { id: string }) => d.id === 'b')
      b.blackhole = false
      await healthy
      for (let i = 0; i < 30; i++) await pool.callTool({ name: 'echo', arguments: { text: 'x' } })
      expect(b.calls()).toBeGreaterThan(before)
    }
  })

  it('use the probe given, e.g. one that requires tools to be served', async () => {
    const pool = setup({
      healthCheck: {
        intervalMs: 15,
        timeoutMs: 100,
        unhealthyThreshold: 2,
        probe: async (client) => {
          const { tools } = await client.listTools()
          if (!tools.some((t) => t.name === 'nope')) throw new Error('tool nope is not served')
        },
      },
    })
    const all = Promise.all(['a', 'b', 'c'].map(async (id) => await nextEvent(pool, 'endpoint:unhealthy', (d: { id: string }) => d.id === id)))
    await all
    // Every endpoint unhealthy: the pool panics and still serves rather than failing everything.
    await pool.callTool({ name: 'echo', arguments: { text: 'x' } })
  })
})

describe('circuit breaker', () => {
  it('opens on failures, half-opens after the delay, re-opens on a failed probe, closes on a good one', async () => {
    const pool = setup({
      healthCheck: false,
      outlierDetection: false,
      circuitBreaker: { breaker: () => new ConsecutiveBreaker(3), halfOpenAfterMs: 50 },
    })
    const b = replicas[1]!
    const states: string[] = []
    pool.addEventListener('breaker', (e) => { if (e.detail.id === 'b') states.push(e.detail.state) })
    b.broken = true
    await callUntil(pool, nextEvent<BreakerEventDetail>(pool, 'breaker', (d) => d.id === 'b' && d.state === 'open'))
    const whileOpen = b.calls()
    const stats = pool.stats().endpoints.find((e) => e.id === 'b')!
    expect(stats.breaker).toBe('open')
    // Broken: the half-open probe fails and the breaker opens again.
    const halfOpen = nextEvent<BreakerEventDetail>(pool, 'breaker', (d) => d.id === 'b' && d.state === 'half-open')
    const reopened = nextEvent<BreakerEventDetail>(pool, 'breaker', (d) => d.id === 'b' && d.state === 'open')
    await callUntil(pool, reopened)
    await halfOpen
    // Exactly one probe call reached b while the breaker was not closed.
    expect(b.calls()).toBe(whileOpen + 1)
    b.broken = false
    await callUntil(pool, nextEvent<BreakerEventDetail>(pool, 'breaker', (d) => d.id === 'b' && d.state === 'closed'))
    expect(states).toEqual(['open', 'half-open', 'open', 'half-open', 'closed'])
    const now = b.calls()
    for (let i = 0; i < 30; i++) await pool.callTool({ name: 'add', arguments: { a: 1, b: 1 } })
    expect(b.calls()).toBe(now + 10)
  })
})

describe('outlier ejection', () => {
  it('ejects after consecutive failures, for the base time, then restores', async () => {
    // An ejection long enough that 20 calls end within it on a loaded machine.
    const pool = setup({ healthCheck: false, circuitBreaker: false, outlierDetection: { consecutiveFailures: 3, baseEjectionMs: 1_000 } })
    const b = replicas[1]!
    b.broken = true
    const ejected = nextEvent<{ id: string, durationMs: number }>(pool, 'endpoint:ejected', (d) => d.id === 'b')
    await callUntil(pool, ejected)
    expect((await ejected).durationMs).toBe(1_000)
    const restored = nextEvent(pool, 'endpoint:restored', (d: { id: string }) => d.id === 'b')
    const atEjection = b.calls()
    for (let i = 0; i < 20; i++) await pool.callTool({ name: 'add', arguments: { a: 1, b: 1 } })
    expect(b.calls()).toBe(atEjection)
    await restored
    // Still broken: the second ejection lasts twice as long.
    const again = nextEvent<{ id: string, durationMs: number }>(pool, 'endpoint:ejected', (d) => d.id === 'b')
    await callUntil(pool, again)
    expect((await again).durationMs).toBe(2_000)
    expect(pool.stats().endpoints.find((e) => e.id === 'b')!.ejections).toBe(2)
  })

  it('never ejects more than maxEjectedPercent of the endpoints', async () => {
    const pool = setup({ healthCheck: false, circuitBreaker: false, retry: false, outlierDetection: { consecutiveFailures: 2, maxEjectedPercent: 34 } })
    for (const r of replicas) r.broken = true
    for (let i = 0; i < 60; i++) await pool.callTool({ name: 'add', arguments: { a: 1, b: 1 } }).catch(() => {})
    expect(pool.stats().endpoints.filter((e) => e.state === 'ejected')).toHaveLength(1)
  })
})

describe('what never counts against a replica', () => {
  it('isError results, invalid params and unknown tools: not retried, no failure recorded', async () => {
    const pool = setup({ healthCheck: false, outlierDetection: { consecutiveFailures: 2 }, circuitBreaker: { breaker: () => new ConsecutiveBreaker(2) } })
    for (let i = 0; i < 12; i++) {
      const r = await pool.callTool({ name: 'fail', arguments: {} })
      expect(r.isError).toBe(true)
    }
    expect(replicas.reduce((s, r) => s + r.calls('fail'), 0)).toBe(12)
    for (let i = 0; i < 6; i++) {
      const bad = await pool.callTool({ name: 'add', arguments: { a: 'x' } }).then((r) => r.isError, (e: unknown) => (e as { code?: number }).code)
      expect([true, -32602]).toContain(bad)
      const missing = await pool.callTool({ name: 'missing', arguments: {} }).then((r) => r.isError, (e: unknown) => (e as { code?: number }).code)
      expect([true, -32602, -32601]).toContain(missing)
    }
    const stats = pool.stats()
    expect(stats.retries).toBe(0)
    for (const e of stats.endpoints) {
      expect(e.failures).toBe(0)
      expect(e.state).toBe('healthy')
      expect(e.breaker).toBe('closed')
    }
  })
})

describe('retry budget', () => {
  it('keeps attempts within calls × (1 + budgetPercent) in a total outage', async () => {
    const pool = setup({
      healthCheck: false,
      outlierDetection: false,
      circuitBreaker: false,
      retry: { maxAttempts: 3, budgetPercent: 20, minRetriesPerSecond: 0, backoff: 'none' },
    }, 0)
    for (const r of replicas) r.broken = true
    const calls = 200
    const reasons = new Map<string, number>()
    for (let i = 0; i < calls; i++) {
      const err = await pool.callTool({ name: 'add', arguments: { a: 1, b: i } }).then(() => undefined, (e: unknown) => e as { name: string, reason: string })
      expect(err?.name).toBe('CallFailedError')
      reasons.set(err!.reason, (reasons.get(err!.reason) ?? 0) + 1)
    }
    const attempts = replicas.reduce((s, r) => s + r.calls('add'), 0)
    expect(attempts).toBeLessThanOrEqual(calls * 1.2)
    expect(attempts).toBeGreaterThan(calls)
    expect(reasons.get('budget-exhausted')).toBeGreaterThan(calls / 2)
    expect(pool.stats().budgetExhausted).toBe(reasons.get('budget-exhausted'))
  })

  it('without a budget the same outage costs maxAttempts per call', async () => {
    const pool = setup({
      healthCheck: false,
      outlierDetection: false,
      circuitBreaker: false,
      retry: { maxAttempts: 3, budgetPercent: 1000, backoff: 'none' },
    }, 0)
    for (const r of replicas) r.broken = true
    for (let i = 0; i < 50; i++) {
      const err = await pool.callTool({ name: 'add', arguments: { a: 1, b: i } }).then(() => undefined, (e: unknown) => e as { reason: string })
      expect(err?.reason).toBe('attempts-exhausted')
    }
    expect(replicas.reduce((s, r) => s + r.calls('add'), 0)).toBe(150)
  })
})
