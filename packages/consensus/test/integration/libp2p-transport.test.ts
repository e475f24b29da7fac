import { createTestNode } from '@p2p-mcp/testkit'
import type { TestNode } from '@p2p-mcp/testkit'
import { lpStream } from '@libp2p/utils'
import { afterEach, describe, expect, it } from 'vitest'
import { checkLinearizability, kvModel } from '../../src/check/index.js'
import type { KvOperation } from '../../src/check/index.js'
import { Libp2pRaftTransport } from '../../src/libp2p/index.js'
import { RaftNode } from '../../src/raft-node.js'
import { KvStateMachine } from '../../src/sim/kv-workload.js'
import { MemoryStorage } from '../../src/storage/memory-storage.js'
import type { Message } from '../../src/types.js'

const enc = new TextEncoder()

async function until (what: string, ok: () => boolean, ms = 20_000): Promise<void> {
  const deadline = Date.now() + ms
  while (!ok()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise(resolve => setTimeout(resolve, 25))
  }
}

interface Peer { id: string, libp2p: TestNode, transport: Libp2pRaftTransport, node: RaftNode, sm: KvStateMachine }

describe('Libp2pRaftTransport', () => {
  const libp2ps: TestNode[] = []
  const nodes: RaftNode[] = []
  afterEach(async () => {
    await Promise.all(nodes.splice(0).map(async n => { await n.stop() }))
    await Promise.all(libp2ps.splice(0).map(async n => { await n.stop() }))
  })

  async function libp2p (): Promise<TestNode> {
    const n = await createTestNode({ transport: 'tcp' })
    libp2ps.push(n)
    return n
  }

  async function connectAll (ps: TestNode[]): Promise<void> {
    for (const a of ps) for (const b of ps) if (a !== b) await a.peerStore.merge(b.peerId, { multiaddrs: b.getMultiaddrs() })
  }

  async function raftPeer (l: TestNode, members: string[], voters: string[], opts: { snapshotThreshold?: number, snapshotChunkBytes?: number } = {}): Promise<Peer> {
    const id = l.peerId.toString()
    const transport = new Libp2pRaftTransport(l, { members, snapshotChunkBytes: opts.snapshotChunkBytes })
    const sm = new KvStateMachine()
    const node = new RaftNode({ id, storage: new MemoryStorage({ voters }), transport, stateMachine: sm, tickMs: 25, electionTicks: 10, snapshotThreshold: opts.snapshotThreshold ?? 10_000 })
    await node.start()
    nodes.push(node)
    return { id, libp2p: l, transport, node, sm }
  }

  it('membership changes on real libp2p nodes while a client writes: add learner (snapshot in chunks), promote, transfer, remove', async () => {
    const ls = [await libp2p(), await libp2p(), await libp2p(), await libp2p()]
    await connectAll(ls)
    const ids = ls.map(l => l.peerId.toString())
    const voters = ids.slice(0, 3)
    // The learner-to-be is a member of every transport before it is added.
    const peers = await Promise.all(ls.slice(0, 3).map(async l => await raftPeer(l, ids, voters, { snapshotThreshold: 15, snapshotChunkBytes: 64 })))
    peers[0]!.node.campaign()
    const leader = (): Peer | undefined => peers.find(p => p.node.status().role === 'leader')
    await until('a leader', () => leader() !== undefined)

    const history: KvOperation[] = []
    let stop = false
    let writes = 0
    const t0 = performance.now()
    const writer = (async () => {
      while (!stop) {
        const l = leader()
        if (l === undefined) { await new Promise(resolve => setTimeout(resolve, 20)); continue }
        const value = `v${++writes}`
        const op: KvOperation = { client: 0, input: { op: 'put', key: 'k', value }, call: performance.now() - t0, output: undefined, return: Infinity }
        try {
          await l.node.propose(enc.encode(JSON.stringify(op.input)), { timeoutMs: 3_000 })
          op.output = {}
          op.return = performance.now() - t0
        } catch (err) {
          // ProposalDropped: definitely not executed; anything else: unknown outcome.
          if ((err as Error).name === 'ProposalDroppedError') { await new Promise(resolve => setTimeout(resolve, 20)); continue }
        }
        history.push(op)
      }
    })()

    await until('30 writes', () => writes >= 30)
    // Add a learner; it catches up through a snapshot sent in 64-byte chunks.
    const learner = await raftPeer(ls[3]!, ids, voters, { snapshotThreshold: 15, snapshotChunkBytes: 64 })
    peers.push(learner)
    await leader()!.node.changeMembership({ type: 'addLearner', node: learner.id })
    await until('the learner catches up', () => learner.node.status().commit >= leader()!.node.status().commit - 2 && learner.node.status().commit > 20)
    expect(learner.transport.stats.snapshotsReceived).toBeGreaterThan(0)
    // Promote it, hand leadership to it, then remove the old leader.
    await leader()!.node.changeMembership({ type: 'addVoter', node: learner.id })
    const old = leader()!
    old.node.transferLeader(learner.id)
    await until('the transfer', () => learner.node.status().role === 'leader')
    await learner.node.changeMembership({ type: 'removeNode', node: old.id })
    await until('writes after the changes', () => writes >= 90)
    stop = true
    await writer

    // Everything acknowledged is there, and the history is linearizable.
    const l = leader()!
    await l.node.read()
    const last = history.filter(o => o.output !== undefined).at(-1)!
    const cur = l.sm.get('k')!
    expect(Number(cur.slice(1))).toBeGreaterThanOrEqual(Number((last.input as { value: string }).value.slice(1)))
    expect(checkLinearizability(kvModel, [...history, { client: 1, input: { op: 'get', key: 'k' }, call: performance.now() - t0, output: { value: cur }, return: performance.now() - t0 + 1 }]).ok).toBe(true)
    expect([...l.node.status().conf.voters].sort()).toEqual([ids[0], ids[1], ids[2], ids[3]].filter(x => x !== old.id).sort())
    const sent = peers.reduce((n, p) => n + p.transport.stats.snapshotsSent, 0)
    expect(sent).toBeGreaterThan(0)
  }, 90_000)

  it('drops and counts messages from non-members; the sender is the authenticated connection', async () => {
    const [a, b, stranger] = [await libp2p(), await libp2p(), await libp2p()]
    await connectAll([a, b, stranger])
    const got: Message[] = []
    const ta = new Libp2pRaftTransport(a, { members: [b.peerId.toString()] })
    await ta.start(m => got.push(m))
    const tb = new Libp2pRaftTransport(b, { members: [a.peerId.toString()] })
    await tb.start(() => {})
    // b claims in the message to come from the stranger: from is the connection's peer.
    tb.send([{ type: 'heartbeat', from: stranger.peerId.toString(), to: a.peerId.toString(), term: 3, commit: 1 }])
    await until('delivery', () => got.length === 1)
    expect(got[0]).toMatchObject({ type: 'heartbeat', from: b.peerId.toString(), to: a.peerId.toString(), term: 3, commit: 1 })
    // A stranger's stream is refused and counted.
    const ts = new Libp2pRaftTransport(stranger, { members: [a.peerId.toString()] })
    await ts.start(() => {})
    ts.send([{ type: 'vote', from: stranger.peerId.toString(), to: a.peerId.toString(), term: 99, index: 0, logTerm: 0 }])
    await until('non-member counted', () => ta.stats.droppedNonMember >= 1)
    expect(got).toHaveLength(1)
    // Garbage from a member: a typed decode error, counted, the stream reset, the node fine.
    const raw = lpStream(await b.dialProtocol(a.peerId, '/p2p-mcp/raft/1.0.0'))
    await raw.write(new Uint8Array([1, 1, 5, 99, 99]))
    await until('decode error counted', () => ta.stats.decodeErrors === 1)
    tb.send([{ type: 'heartbeat', from: '', to: a.peerId.toString(), term: 4 }])
    await until('still delivering', () => got.length === 2)
    await Promise.all([ta.stop(), tb.stop(), ts.stop()])
  }, 30_000)

  it('bounds each peer queue: a peer that cannot be reached costs counted drops, not memory', async () => {
    const a = await libp2p()
    const gone = await libp2p()
    const goneId = gone.peerId.toString()
    await a.peerStore.merge(gone.peerId, { multiaddrs: gone.getMultiaddrs() })
    await gone.stop()
    const ta = new Libp2pRaftTransport(a, { members: [goneId], maxQueuedFrames: 4, dialTimeoutMs: 500, redialBackoffMs: 60_000 })
    await ta.start(() => {})
    for (let i = 0; i < 100; i++) ta.send([{ type: 'app', from: '', to: goneId, term: 1, index: i, logTerm: 1, entries: [] }])
    await until('all dropped', () => ta.stats.droppedSend === 100)
    expect(ta.stats.messagesSent).toBe(0)
    expect(ta.stats.dialFailures).toBe(1)
    await ta.stop()
  }, 30_000)
})
