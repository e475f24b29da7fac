import { afterEach, describe, expect, it } from 'vitest'
import type { ControlPlane } from '../../src/control-plane/control-plane.js'
import type { ReplicatedModule } from '../../src/control-plane/types.js'
import { MemoryCluster, until } from './memory-cluster.js'

let cluster: MemoryCluster | undefined
afterEach(async () => { await cluster?.stop(); cluster = undefined })

const leaderOf = (c: MemoryCluster): ControlPlane | undefined => [...c.planes.values()].find((p) => p.isLeader)

describe('ControlPlane (in process)', { timeout: 60_000 }, () => {
  it('forms by itself: one voter, 3 voters at once, 5 after the stabilisation period; ephemeral and disabled peers stay clients', async () => {
    cluster = new MemoryCluster()
    const stabilizationMs = 5_000
    const a = cluster.add('a', { seedPolicy: { default: 'allow', rules: [] }, admins: ['alice'], stabilizationMs })
    await a.start()
    await until('a leads', () => a.isLeader)
    for (const id of ['b', 'c', 'd', 'e']) await cluster.add(id, { stabilizationMs }, ['a']).start()
    const joined = Date.now()
    await cluster.add('eph', { voterEligible: false }, ['a']).start()
    await cluster.add('off', { enabled: false }, ['a']).start()
    await until('3 voters', () => a.status().voters.length >= 3)
    expect(Date.now() - joined).toBeLessThan(stabilizationMs)
    await until('5 voters', () => (leaderOf(cluster!)?.status().voters.length ?? 0) === 5)
    // the 4th and 5th voters waited for the stabilisation period after they joined
    expect(Date.now() - joined).toBeGreaterThanOrEqual(stabilizationMs)
    const s = leaderOf(cluster)!.status()
    expect(s.voters).not.toContain('eph')
    expect(s.voters).not.toContain('off')
    expect(s.learners).not.toContain('eph')
    expect(s.members.find((m) => m.peerId === 'eph')).toMatchObject({ role: 'client', voterEligible: false })
    expect(s.policyVersion).toBe(1)
    // a disabled peer reads and writes through members
    const off = cluster.planes.get('off')!
    await until('off knows the cluster', () => off.cluster === a.cluster)
    await expect(off.propose('kv', { op: 'put', ns: 'test', key: 'k', value: 1 })).resolves.toMatchObject({ ok: true, version: 1 })
    await expect(cluster.planes.get('e')!.read({ what: 'kv', ns: 'test', key: 'k' })).resolves.toMatchObject({ value: 1 })
  })

  it('a policy change at one peer reaches every peer; only admins may make it', async () => {
    cluster = new MemoryCluster()
    const a = cluster.add('a', { admins: ['alice'] })
    await a.start()
    await until('a leads', () => a.isLeader)
    const b = cluster.add('b', {}, ['a'])
    const c = cluster.add('c', { enabled: false }, ['a'])
    await b.start(); await c.start()
    await until('b is a learner', () => b.inConf() && b.policy !== undefined)
    await expect(b.propose('policy', { op: 'set', principal: 'mallory', policy: { default: 'deny', rules: [] } })).rejects.toMatchObject({ name: 'NotAdminError' })
    await b.propose('policy', { op: 'set', principal: 'alice', policy: { default: 'allow', rules: [{ principal: '*', deny: ['x__*'] }] } })
    await until('c sees version 2', () => c.policy?.version === 2)
    await until('a sees version 2', () => a.policy?.version === 2)
    expect(c.policy?.policy.rules[0]?.deny).toEqual(['x__*'])
  })

  it('a minority refuses writes with NoQuorumError naming the unreachable voters; the majority goes on; after healing it catches up', async () => {
    cluster = new MemoryCluster()
    const a = cluster.add('a')
    await a.start()
    await until('a leads', () => a.isLeader)
    for (const id of ['b', 'c']) await cluster.add(id, {}, ['a']).start()
    await until('3 voters', () => a.status().voters.length === 3)
    const minority = [...cluster.planes.values()].find((p) => !p.isLeader)!
    cluster.partition([minority.self])
    const err: unknown = await minority.propose('kv', { op: 'put', ns: 'p', key: 'k', value: 'minority' }).catch((e: unknown) => e)
    expect(err).toMatchObject({ name: 'NoQuorumError' })
    expect((err as Error).message).toMatch(/no quorum/)
    await until('a leader on the majority side', () => [...cluster!.planes.values()].some((p) => p !== minority && p.isLeader))
    const majority = [...cluster.planes.values()].find((p) => p !== minority)!
    await majority.propose('kv', { op: 'put', ns: 'p', key: 'k', value: 'majority' })
    cluster.heal()
    await until('minority caught up', () => minority.kv.get('p', 'k')?.value === 'majority')
  })

  it('replaces a voter dead for longer than deadVoterMs by a healthy learner and keeps a quorum', async () => {
    cluster = new MemoryCluster()
    const a = cluster.add('a', { maxVoters: 3 })
    await a.start()
    await until('a leads', () => a.isLeader)
    for (const id of ['b', 'c', 'd']) await cluster.add(id, { maxVoters: 3 }, ['a']).start()
    await until('3 voters + 1 learner', () => a.status().voters.length === 3 && a.status().learners.length === 1)
    const victim = a.status().voters.find((v) => v !== a.self)!
    await cluster.kill(victim)
    await until('victim replaced', () => { const s = leaderOf(cluster!)?.status(); return s !== undefined && s.voters.length === 3 && !s.voters.includes(victim) }, 30_000)
    await expect(leaderOf(cluster)!.propose('kv', { op: 'put', ns: 'q', key: 'k', value: 1 })).resolves.toMatchObject({ ok: true })
  })

  it('a replica of an older release (no scheduler module) halts on a scheduler command instead of diverging; the others go on', async () => {
    cluster = new MemoryCluster()
    const sched = (): ReplicatedModule => {
      let n = 0
      return { name: 'scheduler', version: 1, apply: () => ({ ok: true, n: ++n }), snapshot: () => new TextEncoder().encode(String(n)), restore: (d) => { n = Number(new TextDecoder().decode(d) || 0) } }
    }
    const a = cluster.add('a', { modules: [sched()] })
    await a.start()
    await until('a leads', () => a.isLeader)
    await cluster.add('b', { modules: [sched()] }, ['a']).start()
    const old = cluster.add('old', {}, ['a'])
    await old.start()
    await until('3 voters', () => a.status().voters.length === 3)
    const halted = new Promise<Error>((resolve) => { old.addEventListener('halted', (e) => { resolve(e.detail) }, { once: true }) })
    await expect(a.propose('scheduler', { op: 'anything' })).resolves.toMatchObject({ ok: true, n: 1 })
    const err = await halted
    expect(err.name).toBe('ControlPlaneHaltedError')
    expect(err.message).toMatch(/module "scheduler" is not known to this release/)
    expect(old.status()).toMatchObject({ phase: 'halted' })
    // two of three voters still commit
    await expect(a.propose('kv', { op: 'put', ns: 'h', key: 'k', value: 1 })).resolves.toMatchObject({ ok: true })
    expect(old.kv.get('h', 'k')).toBeUndefined()
  })

  it('a peer with bootstrap addresses never bootstraps alone; two groups never merge (cluster id on every control message)', async () => {
    cluster = new MemoryCluster()
    const lonely = cluster.add('lonely', {}, ['nobody'])
    await lonely.start()
    await new Promise((resolve) => setTimeout(resolve, 1_500))
    expect(lonely.status()).toMatchObject({ phase: 'joining', cluster: null, voters: [] })
    await expect(lonely.propose('kv', { op: 'put', ns: 'x', key: 'k', value: 1 })).rejects.toMatchObject({ name: 'ControlPlaneUnavailableError' })
    // two groups, each created by a peer without bootstrap addresses
    const a = cluster.add('a')
    const z = cluster.add('z')
    await a.start(); await z.start()
    await until('both lead', () => a.isLeader && z.isLeader)
    expect(a.cluster).not.toBe(z.cluster)
    const res = await a.handle({ v: 1, type: 'propose', cluster: z.cluster!, id: 'r1', module: 'kv', cv: 1, cmd: { op: 'put', ns: 'x', key: 'k', value: 1 } }, 'z')
    expect(res).toMatchObject({ type: 'error', name: 'ClusterMismatchError' })
    const join = await a.handle({ v: 1, type: 'join', cluster: z.cluster!, peerId: 'z', voterEligible: true, addrs: [] }, 'z')
    expect(join).toMatchObject({ type: 'error', name: 'ClusterMismatchError' })
    expect(a.kv.get('x', 'k')).toBeUndefined()
  })
})
