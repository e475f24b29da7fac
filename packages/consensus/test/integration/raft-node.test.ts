import { afterEach, describe, expect, it } from 'vitest'
import { ProposalDroppedError, TimeoutError } from '../../src/errors.js'
import { RaftNode } from '../../src/raft-node.js'
import type { AppliedChange, LeaderChange } from '../../src/raft-node.js'
import { MemoryStorage } from '../../src/storage/memory-storage.js'
import { MemoryNetwork } from '../../src/transport/memory-transport.js'
import type { Entry, StateMachine } from '../../src/types.js'

const enc = new TextEncoder()
const dec = new TextDecoder()

/** A key-value state machine that applies each request id once (client sessions). */
class Kv implements StateMachine {
  data = new Map<string, string>()
  seen = new Set<string>()
  apply (e: Entry): unknown {
    if (e.ctx !== undefined && this.seen.has(e.ctx)) return undefined
    if (e.ctx !== undefined) this.seen.add(e.ctx)
    const [k, v] = dec.decode(e.data).split('=') as [string, string]
    const old = this.data.get(k)
    this.data.set(k, v)
    return old
  }

  snapshot (): Uint8Array { return enc.encode(JSON.stringify([...this.data])) }
  restore (d: Uint8Array): void { this.data = new Map(JSON.parse(dec.decode(d)) as Array<[string, string]>) }
}

/**
 * Resolves once `ok()` holds: checked now and on every `leader` or `applied` event of `nodes`
 * (no polling); rejects after `ms`.
 */
async function until (what: string, nodes: RaftNode[], ok: () => boolean, ms = 10_000): Promise<void> {
  if (ok()) return
  await new Promise<void>((resolve, reject) => {
    const check = (): void => { if (ok()) { done(); resolve() } }
    const done = (): void => {
      clearTimeout(deadline)
      for (const n of nodes) { n.removeEventListener('leader', check); n.removeEventListener('applied', check) }
    }
    const deadline = setTimeout(() => { done(); reject(new Error(`timed out waiting for ${what}`)) }, ms)
    for (const n of nodes) { n.addEventListener('leader', check); n.addEventListener('applied', check) }
  })
}

describe('RaftNode over the in-memory transport', () => {
  const started: RaftNode[] = []
  afterEach(async () => { await Promise.all(started.splice(0).map(async n => { await n.stop() })) })

  function cluster (n: number, net = new MemoryNetwork()): { nodes: RaftNode[], kvs: Kv[], net: MemoryNetwork } {
    const ids = Array.from({ length: n }, (_, i) => `p${i + 1}`)
    const kvs: Kv[] = []
    const nodes = ids.map((id, i) => {
      const kv = new Kv()
      kvs.push(kv)
      return new RaftNode({ id, storage: new MemoryStorage({ voters: ids }), transport: net.transport(id), stateMachine: kv, tickMs: 5, timeoutMs: 3000, snapshotThreshold: 50, seed: i + 1 })
    })
    started.push(...nodes)
    return { nodes, kvs, net }
  }

  it('elects a leader, replicates proposals from any node, serves linearizable reads and survives losing the leader', async () => {
    const { nodes, kvs, net } = cluster(3)
    const leaderEvents: LeaderChange[] = []
    nodes[0]!.addEventListener('leader', e => { leaderEvents.push((e as CustomEvent<LeaderChange>).detail) })
    await Promise.all(nodes.map(async n => { await n.start() }))
    await until('a leader', nodes, () => nodes.some(n => n.status().role === 'leader'))
    await until('everyone knows the leader', nodes, () => nodes.every(n => n.leader !== ''))
    expect(leaderEvents.some(e => e.leader !== '')).toBe(true)

    // Proposals through every node (followers forward), concurrently.
    const results = await Promise.all(Array.from({ length: 120 }, async (_, i) => await nodes[i % 3]!.propose(enc.encode(`k${i % 7}=${i}`))))
    expect(results).toHaveLength(120)
    await until('all applied', nodes, () => kvs.every(kv => kv.data.size === 7))
    const follower = nodes.find(n => n.status().role !== 'leader')!
    await follower.read()
    expect(kvs[nodes.indexOf(follower)]!.data.get('k6')).toBe(kvs[nodes.indexOf(nodes.find(n => n.status().role === 'leader')!)]!.data.get('k6'))

    // Logs were compacted along the way (snapshotThreshold 50).
    expect(nodes.every(n => n.status().applied >= 120)).toBe(true)

    const oldLeader = nodes.find(n => n.status().role === 'leader')!
    net.isolate(oldLeader.id, nodes.map(n => n.id))
    await until('a new leader', nodes, () => nodes.some(n => n !== oldLeader && n.status().role === 'leader'))
    const newLeader = nodes.find(n => n !== oldLeader && n.status().role === 'leader')!
    await newLeader.propose(enc.encode('after=1'))
    await expect(oldLeader.propose(enc.encode('lost=1'), { timeoutMs: 200 })).rejects.toSatisfy(e => e instanceof TimeoutError || e instanceof ProposalDroppedError)
    net.heal()
    await until('the old leader catches up', [oldLeader], () => kvs[nodes.indexOf(oldLeader)]!.data.get('after') === '1')
  })

  it('a single-node cluster commits, and stop() rejects pending work', async () => {
    const { nodes } = cluster(1)
    await nodes[0]!.start()
    nodes[0]!.campaign()
    expect(await nodes[0]!.propose(enc.encode('a=1'))).toBeUndefined()
    expect(await nodes[0]!.propose(enc.encode('a=2'))).toBe('1')
    await nodes[0]!.stop()
    await nodes[0]!.stop()
    await expect(nodes[0]!.propose(enc.encode('a=3'))).rejects.toMatchObject({ name: 'NodeStoppedError' })
  })

  it('adds a learner, catches it up, and promotes it', async () => {
    const net = new MemoryNetwork()
    const { nodes, kvs } = cluster(3, net)
    await Promise.all(nodes.map(async n => { await n.start() }))
    await until('a leader', nodes, () => nodes.some(n => n.status().role === 'leader'))
    for (let i = 0; i < 80; i++) await nodes[0]!.propose(enc.encode(`k${i}=${i}`))
    const kv = new Kv()
    const fresh = new RaftNode({ id: 'p4', storage: new MemoryStorage({ voters: ['p1', 'p2', 'p3'] }), transport: net.transport('p4'), stateMachine: kv, tickMs: 5, snapshotThreshold: 50 })
    started.push(fresh)
    await fresh.start()
    await nodes[0]!.changeMembership({ type: 'addLearner', node: 'p4' })
    await until('learner caught up', [fresh], () => kv.data.size === 80)
    await nodes[0]!.changeMembership({ type: 'addVoter', node: 'p4' })
    await until('promoted', [fresh], () => fresh.status().conf.voters.includes('p4'))
    expect(kvs[0]!.data.get('k79')).toBe('79')
  })

  it('emits applied after each applied batch, in increasing index order', async () => {
    const { nodes } = cluster(1)
    const seen: number[] = []
    nodes[0]!.addEventListener('applied', e => { seen.push((e as CustomEvent<AppliedChange>).detail.index) })
    await nodes[0]!.start()
    nodes[0]!.campaign()
    await nodes[0]!.propose(enc.encode('a=1'))
    expect(seen.length).toBeGreaterThan(0)
    expect(seen.at(-1)).toBe(nodes[0]!.status().applied)
    for (let i = 1; i < seen.length; i++) expect(seen[i]).toBeGreaterThan(seen[i - 1]!)
  })

  it('rejects oversized proposals with a typed error', async () => {
    const { nodes } = cluster(1)
    await nodes[0]!.start()
    await expect(nodes[0]!.propose(new Uint8Array(2_000_000))).rejects.toMatchObject({ name: 'PayloadTooLargeError' })
  })
})
