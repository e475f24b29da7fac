// Hedged requests (docs/decisions/0152) on real SDK servers: a safe call stuck on a slow
// replica gets a second copy elsewhere; unsafe calls never do; the retry budget bounds it.
import { afterEach, describe, expect, it } from 'vitest'
import { createClientPool } from '../../src/index.js'
import type { ClientPool, ClientPoolInit } from '../../src/index.js'
import { Replica } from '../replica.js'

let pool: ClientPool | undefined
let replicas: Replica[] = []

afterEach(async () => {
  await pool?.close()
  for (const r of replicas) await r.close()
  pool = undefined
  replicas = []
})

/** Replica a answers after 10 s, b at once. */
function setup (init: ClientPoolInit): { pool: ClientPool, slow: Replica, fast: Replica } {
  const slow = new Replica({ id: 'a', delayMs: 10_000 })
  const fast = new Replica({ id: 'b', delayMs: 0 })
  replicas = [slow, fast]
  pool = createClientPool({ endpoints: replicas.map((r) => r.spec), balancer: 'round-robin', healthCheck: false, stallDetection: false, ...init })
  return { pool, slow, fast }
}

describe('hedged requests', () => {
  it('a read-only call on a slow replica is answered by the other one; the slow copy is cancelled and not held against its replica', async () => {
    const { pool, slow } = setup({ hedge: { delayMs: 50 }, retry: { minRetriesPerSecond: 100 } })
    for (let i = 0; i < 6; i++) {
      const r = await pool.callTool({ name: 'echo', arguments: { text: String(i) } })
      expect(r.content).toEqual([{ type: 'text', text: `b:${i}` }])
    }
    const stats = pool.stats()
    // Round-robin sent every other call to a first: each of those was hedged.
    expect(stats.hedges).toBeGreaterThanOrEqual(3)
    expect(stats.calls).toBe(6)
    const a = stats.endpoints.find((e) => e.id === 'a')!
    expect(a.failures).toBe(0)
    expect(a.breaker).toBe('closed')
    await expect.poll(() => slow.cancelled, { timeout: 10_000 }).toBeGreaterThanOrEqual(3)
  })

  it('a call that is not safe to run twice is never hedged', async () => {
    const { pool, slow, fast } = setup({ hedge: { delayMs: 20 }, retry: { minRetriesPerSecond: 100 } })
    slow.delayMs = 200
    for (let i = 0; i < 4; i++) await pool.callTool({ name: 'charge', arguments: { key: `k${i}` } })
    expect(pool.stats().hedges).toBe(0)
    const charged = [...slow.charges, ...fast.charges].sort()
    expect(charged).toEqual(['k0', 'k1', 'k2', 'k3'])
  })

  it('hedges come out of the retry budget: none when it is empty', async () => {
    const { pool, slow } = setup({ hedge: { delayMs: 20 }, retry: { budgetPercent: 0, minRetriesPerSecond: 0 } })
    slow.delayMs = 200
    for (let i = 0; i < 4; i++) await pool.callTool({ name: 'echo', arguments: { text: 'x' } })
    expect(pool.stats().hedges).toBe(0)
    expect(slow.calls('echo')).toBe(2)
  })

  it('rejects a hedge without delayMs, naming the option', () => {
    expect(() => createClientPool({ hedge: {} as { delayMs: number } })).toThrow(/hedge\.delayMs/)
  })
})
