// One of three replicas dies under sustained load: idempotent calls all succeed, and no
// non-idempotent call runs twice.
import { afterEach, describe, expect, it } from 'vitest'
import { createClientPool } from '../../src/index.js'
import type { ClientPool } from '../../src/index.js'
import { load, nextEvent, Replica } from '../replica.js'

let pool: ClientPool | undefined
let replicas: Replica[] = []

afterEach(async () => {
  await pool?.close()
  for (const r of replicas) await r.close()
  pool = undefined
  replicas = []
})

function setup (balancer: 'peak-ewma' | 'round-robin' = 'peak-ewma'): ClientPool {
  replicas = ['a', 'b', 'c'].map((id) => new Replica({ id, delayMs: 2 }))
  pool = createClientPool({
    endpoints: replicas.map((r) => r.spec),
    balancer,
    healthCheck: false,
    retry: { maxAttempts: 3, minRetriesPerSecond: 100 },
    reconnect: { initialDelayMs: 50 },
  })
  return pool
}

describe('a replica killed mid-request', () => {
  it('idempotent tool: zero failed calls', async () => {
    const pool = setup('round-robin')
    const victim = replicas[1]!
    const retried: Array<{ id: string, method: string }> = []
    pool.addEventListener('retry', (e) => { retried.push(e.detail) })
    let failed = 0
    let done = 0
    const total = 600
    await load(total, 12, async (i) => {
      // Kill while calls are in flight on it, a third of the way in.
      if (i === 200) {
        expect(victim.sessions.size).toBeGreaterThan(0)
        victim.kill()
      }
      try {
        const r = await pool.callTool({ name: 'add', arguments: { a: i, b: 1 } })
        expect(r.content).toEqual([{ type: 'text', text: String(i + 1) }])
        done++
      } catch (err) {
        failed++
        throw err
      }
    })
    expect(failed).toBe(0)
    expect(done).toBe(total)
    expect(pool.stats().retries).toBeGreaterThan(0)
    expect(retried).toHaveLength(pool.stats().retries)
    expect(retried.every((r) => r.id === 'b' && r.method === 'tools/call')).toBe(true)
    // After the kill, the dead replica got nothing more done.
    const byReplica = replicas.map((r) => r.calls('add'))
    expect(byReplica[0]! + byReplica[2]!).toBeGreaterThan(total - byReplica[1]!)
  })

  it('non-idempotent tool: no call runs twice; failures say why', async () => {
    const pool = setup('round-robin')
    const victim = replicas[1]!
    const errors: Error[] = []
    let ok = 0
    const total = 600
    await load(total, 12, async (i) => {
      if (i === 200) victim.kill()
      try {
        await pool.callTool({ name: 'charge', arguments: { key: `k${i}` } })
        ok++
      } catch (err) {
        errors.push(err as Error)
      }
    })
    const all = replicas.flatMap((r) => r.charges)
    const seen = new Map<string, number>()
    for (const k of all) seen.set(k, (seen.get(k) ?? 0) + 1)
    expect([...seen.values()].filter((n) => n > 1)).toEqual([])
    // Every call either succeeded or failed with a clear, typed error; none vanished.
    expect(ok + errors.length).toBe(total)
    expect(errors.length).toBeGreaterThan(0)
    for (const err of errors) {
      expect(err.name).toBe('CallFailedError')
      expect((err as unknown as { reason: string }).reason).toBe('not-idempotent')
      expect(err.message).toMatch(/tools\/call failed on endpoint "b".*not retried.*idempotent/)
    }
    // Calls that failed were in flight on the victim; those that never left were sent elsewhere.
    expect(errors.length).toBeLessThanOrEqual(12)
  })

  it('a call whose session cannot open goes elsewhere even when not idempotent', async () => {
    const pool = setup('round-robin')
    replicas[0]!.down = true
    for (let i = 0; i < 30; i++) await pool.callTool({ name: 'charge', arguments: { key: `k${i}` } })
    expect(replicas[0]!.calls()).toBe(0)
    expect(replicas[1]!.charges.length + replicas[2]!.charges.length).toBe(30)
  })

  it('a dropped session reopens after its backoff when the replica comes back', async () => {
    replicas = ['a', 'b'].map((id) => new Replica({ id }))
    pool = createClientPool({
      endpoints: replicas.map((r) => r.spec),
      healthCheck: { intervalMs: 20, timeoutMs: 200 },
      reconnect: { initialDelayMs: 30 },
    })
    await pool.callTool({ name: 'echo', arguments: { text: 'x' } }, { endpoint: 'a' })
    const closed = nextEvent(pool, 'session:closed', (d: { id: string }) => d.id === 'a')
    replicas[0]!.kill()
    await closed
    // While a is down, calls go to b.
    for (let i = 0; i < 10; i++) await pool.callTool({ name: 'echo', arguments: { text: 'x' } })
    expect(replicas[0]!.calls('echo')).toBe(1)
    // The health checker reopens the session once a is back and the backoff has passed.
    const reopened = nextEvent(pool, 'session:open', (d: { id: string }) => d.id === 'a')
    replicas[0]!.down = false
    await reopened
    await pool.callTool({ name: 'echo', arguments: { text: 'x' } }, { endpoint: 'a' })
    expect(replicas[0]!.calls('echo')).toBe(2)
  })
})
