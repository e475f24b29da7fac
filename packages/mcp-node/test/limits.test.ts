// The limiter: GCRA exact at one peer (a property against the definition: never more than
// burst + elapsed/interval admitted), concurrency, all-or-nothing admission, bounded budgets,
// and a shared limit divided by demand between peers that exchange their usage. The usage
// codec is fuzzed. FC_SEED and FC_NUM_RUNS replay or lengthen a run.
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { AccessControl } from '../src/access-control.js'
import { AuditLog } from '../src/audit/audit-log.js'
import { parseConfig } from '../src/config.js'
import { LayeredPolicy } from '../src/control-plane/layered-policy.js'
import { CallLimiter, type LimitSpec } from '../src/limits/limiter.js'
import { LimitPlan } from '../src/limits/limit-plan.js'
import { decodeUsage, encodeUsage, InvalidUsageMessageError, MAX_USAGE_ENTRIES } from '../src/limits/usage-gossip.js'

const numRuns = Number(process.env.FC_NUM_RUNS ?? 100)
const seed = process.env.FC_SEED === undefined ? Date.now() % 2 ** 31 : Number(process.env.FC_SEED)
process.stdout.write(`[limits] FC_SEED=${seed} FC_NUM_RUNS=${numRuns}\n`)

const rate = (requestsPerMinute: number, burst?: number, shared = false): LimitSpec => ({ key: `k${requestsPerMinute}/${burst}`, label: 'test', requestsPerMinute, burst, shared })

describe('CallLimiter', () => {
  it('admits at most burst + elapsed / interval requests at any arrival pattern (GCRA)', () => {
    fc.assert(fc.property(
      fc.integer({ min: 1, max: 6000 }), fc.integer({ min: 1, max: 20 }), fc.array(fc.integer({ min: 0, max: 5_000 }), { minLength: 1, maxLength: 300 }),
      (perMinute, burst, gaps) => {
        let now = 1_000_000
        const limiter = new CallLimiter({ now: () => now })
        const spec = rate(perMinute, burst)
        const interval = 60_000 / perMinute
        const admitted: number[] = []
        for (const gap of gaps) {
          now += gap
          const a = limiter.acquire([spec])
          if (a.ok) { admitted.push(now); a.release() } else {
            expect(a.retryAfterMs).toBeGreaterThan(0)
            expect(a.limit).toBe('rate')
          }
        }
        // In every window [admitted[i], admitted[j]] at most burst + span/interval requests.
        for (let i = 0; i < admitted.length; i++) {
          for (let j = i; j < admitted.length; j++) {
            expect(j - i + 1).toBeLessThanOrEqual(burst + (admitted[j]! - admitted[i]!) / interval + 1e-9)
          }
        }
      }), { seed, numRuns })
  })

  it('admits a request again exactly when retryAfterMs says', () => {
    let now = 0
    const limiter = new CallLimiter({ now: () => now })
    const spec = rate(60, 2)
    expect(limiter.acquire([spec]).ok).toBe(true)
    expect(limiter.acquire([spec]).ok).toBe(true)
    const refused = limiter.acquire([spec])
    expect(refused).toMatchObject({ ok: false, limit: 'rate', retryAfterMs: 1000 })
    now += 999
    expect(limiter.acquire([spec]).ok).toBe(false)
    now += 1
    expect(limiter.acquire([spec]).ok).toBe(true)
  })

  it('counts calls in flight against maxConcurrent until they are released', () => {
    const limiter = new CallLimiter()
    const spec: LimitSpec = { key: 'c', label: 'two at once', maxConcurrent: 2, shared: false }
    const a = limiter.acquire([spec])
    const b = limiter.acquire([spec])
    expect(a.ok && b.ok).toBe(true)
    expect(limiter.acquire([spec])).toMatchObject({ ok: false, limit: 'concurrency', spec: { label: 'two at once' } })
    if (a.ok) { a.release(); a.release() } // twice: the second does nothing
    const c = limiter.acquire([spec])
    expect(c.ok).toBe(true)
    expect(limiter.acquire([spec]).ok).toBe(false)
  })

  it('admits against all limits or none: a refusal by one takes nothing from the others', () => {
    let now = 0
    const limiter = new CallLimiter({ now: () => now })
    const loose = rate(600, 1)
    const full: LimitSpec = { key: 'full', label: 'full', maxConcurrent: 1, shared: false }
    const held = limiter.acquire([full])
    expect(held.ok).toBe(true)
    expect(limiter.acquire([loose, full]).ok).toBe(false)
    // loose was not taken: one request now passes it
    expect(limiter.acquire([loose]).ok).toBe(true)
    now += 1
    expect(limiter.acquire([loose]).ok).toBe(false)
  })

  it('keeps at most maxKeys budgets, forgetting idle ones first', () => {
    let now = 0
    const limiter = new CallLimiter({ maxKeys: 16, now: () => now })
    const busy: LimitSpec = { key: 'busy', label: 'busy', maxConcurrent: 1, shared: false }
    expect(limiter.acquire([busy]).ok).toBe(true)
    for (let i = 0; i < 100; i++) {
      now += 1_000
      const a = limiter.acquire([{ key: `p${i}`, label: 'x', requestsPerMinute: 60, shared: false }])
      if (a.ok) a.release()
    }
    expect(limiter.size).toBeLessThanOrEqual(16)
    // the budget with a call in flight was kept
    expect(limiter.acquire([busy]).ok).toBe(false)
  })

  it('divides a shared rate between peers by their demand, so the mesh admits about the limit', () => {
    // Three peers, each asked 50 times a second for 20 s of simulated time; limit 600/min.
    let now = 0
    const peers = ['a', 'b', 'c'].map((id) => ({ id, limiter: new CallLimiter({ now: () => now }), admitted: 0 }))
    const spec = rate(600, 10, true)
    const exchange = (): void => {
      for (const from of peers) for (const to of peers) if (from !== to) to.limiter.observe(from.id, decodeUsage(encodeUsage(from.limiter.shared())))
    }
    for (let ms = 0; ms < 20_000; ms += 20) {
      now = ms
      for (const p of peers) {
        const a = p.limiter.acquire([spec])
        if (a.ok) { p.admitted++; a.release() }
      }
      if (ms % 500 === 0) exchange()
    }
    const total = peers.reduce((n, p) => n + p.admitted, 0)
    // 600/min for 20 s = 200 (+ the bursts before the first exchange)
    expect(total).toBeGreaterThan(180)
    expect(total).toBeLessThan(260)
    for (const p of peers) expect(p.admitted).toBeGreaterThan(40)
  })

  it('ignores usage of a peer that stopped reporting, after staleMs', () => {
    let now = 0
    const limiter = new CallLimiter({ now: () => now, staleMs: 2_000 })
    const spec: LimitSpec = { key: 'k', label: 'k', maxConcurrent: 3, shared: true }
    const first = limiter.acquire([spec])
    expect(first.ok).toBe(true)
    const hash = limiter.shared()[0]![0]
    limiter.observe('other', [[hash, 1, 2]])
    expect(limiter.acquire([spec]).ok).toBe(false)
    now += 2_001
    expect(limiter.acquire([spec]).ok).toBe(true)
  })
})

describe('usage messages', () => {
  it('round-trip and keep at most MAX_USAGE_ENTRIES, the busiest', () => {
    const many = Array.from({ length: MAX_USAGE_ENTRIES + 10 }, (_, i) => [i.toString(16).padStart(32, '0'), i, 0] as [string, number, number])
    const back = decodeUsage(encodeUsage(many))
    expect(back).toHaveLength(MAX_USAGE_ENTRIES)
    expect(back[0]![1]).toBe(MAX_USAGE_ENTRIES + 9)
  })

  it('refuse anything else with InvalidUsageMessageError, never another error', () => {
    const junk = fc.oneof(
      fc.uint8Array({ maxLength: 512 }),
      fc.jsonValue().map((v) => new TextEncoder().encode(JSON.stringify(v))),
      fc.array(fc.tuple(fc.string(), fc.double(), fc.integer()), { maxLength: 5 }).map((u) => new TextEncoder().encode(JSON.stringify({ v: 1, u }))),
    )
    fc.assert(fc.property(junk, (bytes) => {
      try {
        const u = decodeUsage(bytes)
        for (const [hash, demand, inFlight] of u) {
          expect(hash).toMatch(/^[0-9a-f]{32}$/)
          expect(demand).toBeGreaterThanOrEqual(0)
          expect(Number.isSafeInteger(inFlight)).toBe(true)
        }
      } catch (err) {
        expect(err).toBeInstanceOf(InvalidUsageMessageError)
      }
    }), { seed, numRuns: numRuns * 10 })
  })
})

describe('which limits a request passes (decision 0182)', () => {
  const policy = new LayeredPolicy(parseConfig({
    policy: {
      limits: [{ principal: 'token:alice', requestsPerMinute: 60 }, { principal: 'peer:*', server: 'calc', maxConcurrent: 8 }],
      servers: { calc: { maxConcurrentExecutions: 2 } },
    },
  }).policy)
  const access = new AccessControl({ self: 'peer:me', policy, plan: new LimitPlan(policy, () => ({ requestsPerMinute: 120 })), limiter: new CallLimiter(), audit: new AuditLog({ maxEntries: 10 }) })
  const req = { method: 'tools/call' as const, target: 'calc__add', kind: 'tool' as const, server: 'calc', enforce: true }
  const labels = (r: Parameters<AccessControl['limits']>[0]): string[] => access.limits(r).map((s) => s.label)

  it('the entry peer counts the caller\'s limits; the serving peer the server\'s and, across a hop, the asserting peer\'s, never the caller\'s twice', () => {
    expect(labels({ ...req, principal: 'token:alice', role: 'entry' })).toEqual([expect.stringContaining('policy.limits.0 (60 requests per minute for principal "token:alice")')])
    const serving = labels({ ...req, principal: 'token:alice', assertedBy: 'peer:12D3KooWentry', role: 'serving' })
    expect(serving).toEqual(expect.arrayContaining([
      expect.stringContaining('policy.limits.1 (8 at once for principal "peer:12D3KooWentry" on server "calc")'),
      expect.stringContaining('this peer\'s config policy.servers.calc'),
      expect.stringContaining('the access policy of server calc (120 requests per minute'),
    ]))
    expect(serving).toHaveLength(3)
    expect(serving.some((l) => l.includes('token:alice'))).toBe(false)
    // this peer's own route sessions (not enforced): only the server's limits
    expect(labels({ ...req, principal: 'peer:me', role: 'serving', enforce: false })).toHaveLength(2)
  })
})
