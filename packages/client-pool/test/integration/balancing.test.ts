// Balancers on real SDK servers: the slow replica, label requirements, affinity, custom pickers.
import { afterEach, describe, expect, it } from 'vitest'
import { createClientPool, NoEndpointAvailableError } from '../../src/index.js'
import type { BalancerName, ClientPool, Picker } from '../../src/index.js'
import { load, Replica } from '../replica.js'

let pool: ClientPool | undefined
let replicas: Replica[] = []

afterEach(async () => {
  await pool?.close()
  for (const r of replicas) await r.close()
  pool = undefined
  replicas = []
})

async function slowShare (balancer: BalancerName): Promise<number> {
  replicas = [new Replica({ id: 'a', delayMs: 2 }), new Replica({ id: 'slow', delayMs: 40 }), new Replica({ id: 'c', delayMs: 2 })]
  pool = createClientPool({ endpoints: replicas.map((r) => r.spec), balancer, healthCheck: false })
  const p = pool
  await load(600, 8, async (i) => { await p.callTool({ name: 'echo', arguments: { text: String(i) } }) })
  const total = replicas.reduce((s, r) => s + r.calls('echo'), 0)
  return replicas[1]!.calls('echo') / total
}

describe('a replica slowed 20×', () => {
  it('gets under 10% of the traffic with peak-EWMA', async () => {
    expect(await slowShare('peak-ewma')).toBeLessThan(0.1)
  })

  it('gets its third with round-robin (the baseline)', async () => {
    const share = await slowShare('round-robin')
    expect(share).toBeGreaterThan(0.3)
    expect(share).toBeLessThan(0.37)
  })
})

describe('require', () => {
  it('sends calls only to endpoints whose labels match', async () => {
    replicas = [
      new Replica({ id: 'cpu', labels: { gpu: 'none', zone: 'x' } }),
      new Replica({ id: 'a100-x', labels: { gpu: 'a100', zone: 'x' } }),
      new Replica({ id: 'a100-y', labels: { gpu: 'a100', zone: 'y' } }),
    ]
    pool = createClientPool({ endpoints: replicas.map((r) => r.spec), healthCheck: false })
    for (let i = 0; i < 60; i++) await pool.callTool({ name: 'echo', arguments: { text: 'x' } }, { require: { gpu: 'a100' } })
    expect(replicas[0]!.calls()).toBe(0)
    expect(replicas[1]!.calls() + replicas[2]!.calls()).toBe(60)
    for (let i = 0; i < 20; i++) await pool.callTool({ name: 'echo', arguments: { text: 'x' } }, { require: { gpu: 'a100', zone: 'y' } })
    expect(replicas[2]!.calls()).toBeGreaterThanOrEqual(20)
  })

  it('fails with NoEndpointAvailableError naming what is missing when nothing matches', async () => {
    replicas = [new Replica({ id: 'cpu', labels: { gpu: 'none' } })]
    pool = createClientPool({ endpoints: replicas.map((r) => r.spec), healthCheck: false })
    const err = await pool.callTool({ name: 'echo', arguments: { text: 'x' } }, { require: { gpu: 'h100' } }).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(NoEndpointAvailableError)
    expect((err as Error).message).toMatch(/cpu: labels \{"gpu":"none"\} lack \{"gpu":"h100"\}/)
    expect(replicas[0]!.calls()).toBe(0)
  })
})

describe('ring-hash through the pool', () => {
  it('keeps a key on one endpoint, and moves it only while that endpoint is drained', async () => {
    replicas = ['a', 'b', 'c'].map((id) => new Replica({ id }))
    pool = createClientPool({ endpoints: replicas.map((r) => r.spec), balancer: 'ring-hash', healthCheck: false })
    const owner = async (key: string): Promise<string> => {
      const r = await pool!.callTool({ name: 'echo', arguments: { text: key } }, { key })
      return (r.content as Array<{ text: string }>)[0]!.text.split(':')[0]!
    }
    const keys = Array.from({ length: 30 }, (_, i) => `user-${i}`)
    const first = new Map<string, string>()
    for (const k of keys) first.set(k, await owner(k))
    for (const k of keys) expect(await owner(k)).toBe(first.get(k))
    expect(new Set(first.values()).size).toBe(3)
    await pool.drain('b')
    for (const k of keys) {
      const now = await owner(k)
      if (first.get(k) === 'b') expect(now).not.toBe('b')
      else expect(now).toBe(first.get(k))
    }
  })
})

describe('custom picker', () => {
  it('is used, sees only eligible candidates, and gets the key', async () => {
    replicas = ['a', 'b', 'c'].map((id) => new Replica({ id }))
    const seen: string[][] = []
    const picker: Picker = {
      pick: (candidates, context) => {
        seen.push(candidates.map((c) => c.id))
        return candidates.find((c) => c.id === context.key) ?? candidates[0]
      },
    }
    pool = createClientPool({ endpoints: replicas.map((r) => r.spec), balancer: picker, healthCheck: false })
    await pool.callTool({ name: 'echo', arguments: { text: 'x' } }, { key: 'c' })
    await pool.drain('a')
    await pool.callTool({ name: 'echo', arguments: { text: 'x' } }, { key: 'b' })
    expect(seen).toEqual([['a', 'b', 'c'], ['b', 'c']])
    expect(replicas.map((r) => r.calls())).toEqual([0, 1, 1])
  })
})
