// Per-endpoint bulkheads: running slots, the queue, and refusal that sends calls elsewhere.
import { afterEach, describe, expect, it } from 'vitest'
import { createClientPool, NoEndpointAvailableError } from '../../src/index.js'
import type { ClientPool, EndpointLoad } from '../../src/index.js'
import { Replica } from '../replica.js'

let pool: ClientPool | undefined
let replicas: Replica[] = []

afterEach(async () => {
  await pool?.close()
  for (const r of replicas) await r.close()
  pool = undefined
  replicas = []
})

const slow = { name: 'work', arguments: { steps: 1, stepMs: 80 } }

describe('bulkhead', () => {
  it('queues beyond maxConcurrentPerEndpoint, then refuses when the queue is full', async () => {
    replicas = [new Replica({ id: 'a' })]
    pool = createClientPool({ endpoints: replicas.map((r) => r.spec), healthCheck: false, bulkhead: { maxConcurrentPerEndpoint: 2, maxQueue: 1 } })
    const p = pool
    const running = [p.callTool(slow), p.callTool(slow)]
    const queued = p.callTool(slow)
    await expect.poll(() => replicas[0]!.calls('work')).toBe(2)
    expect(p.stats().endpoints[0]!.inFlight).toBe(3)
    const refused = await p.callTool(slow).catch((e: unknown) => e)
    expect(refused).toBeInstanceOf(NoEndpointAvailableError)
    expect((refused as Error).message).toContain('a: bulkhead full')
    await Promise.all([...running, queued])
    expect(replicas[0]!.calls('work')).toBe(3)
  })

  it('sends calls to another endpoint when one is full, even non-idempotent ones', async () => {
    replicas = [new Replica({ id: 'a' }), new Replica({ id: 'b' })]
    // A picker that always wants a: only a full bulkhead can send a call to b.
    const preferA = { pick: (c: readonly EndpointLoad[]) => c.find((e) => e.id === 'a') ?? c[0] }
    pool = createClientPool({ endpoints: replicas.map((r) => r.spec), balancer: preferA, healthCheck: false, bulkhead: { maxConcurrentPerEndpoint: 1, maxQueue: 0 } })
    const p = pool
    const calls = [p.callTool(slow), p.callTool({ name: 'charge', arguments: { key: 'k1' } })]
    await Promise.all(calls)
    expect(replicas[0]!.calls() + replicas[1]!.calls()).toBe(2)
    expect(replicas[0]!.calls('work')).toBe(1)
    expect(replicas[1]!.charges).toEqual(['k1'])
  })

  it('a queued call whose signal aborts leaves the queue without running', async () => {
    replicas = [new Replica({ id: 'a' })]
    pool = createClientPool({ endpoints: replicas.map((r) => r.spec), healthCheck: false, bulkhead: { maxConcurrentPerEndpoint: 1, maxQueue: 4 } })
    const p = pool
    const first = p.callTool(slow)
    await expect.poll(() => replicas[0]!.calls('work')).toBe(1)
    const controller = new AbortController()
    const queued = p.callTool(slow, { signal: controller.signal })
    controller.abort(new Error('gave up waiting'))
    await expect(queued).rejects.toThrow('gave up waiting')
    await first
    expect(replicas[0]!.calls('work')).toBe(1)
    expect(p.stats().endpoints[0]!.inFlight).toBe(0)
  })
})
