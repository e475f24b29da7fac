// Control-plane benchmarks, one run:
//  A. proposal latency (p50/p99) of a kv put, from the leader, a follower voter and a learner,
//     one writer at a time (idle) and 64 concurrent writers; side by side with the bare
//     consensus RaftNode.propose on the same leader (the same stack without the envelope,
//     validation and exactly-once table). Three voters and one learner in this process on
//     libp2p TCP 127.0.0.1 with the consensus FileStorage (fsync on) in a temp dir.
//  B. time to form the group from a cold start with 3, 5 and 10 `p2p-mcp start` processes:
//     to 3 voters, and to the final voter count (5 for 5 and 10 peers; stabilizationMs 2000).
//   node --import ../testkit/src/ts-hooks.ts bench/control-plane.bench.ts   (BENCH_OPS, BENCH_SIZES=3,5,10; BENCH_SIZES= skips B)
import { mkdtemp, rm } from 'node:fs/promises'
import { loadavg, tmpdir } from 'node:os'
import { join } from 'node:path'
import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import { tcp } from '@libp2p/tcp'
import type { RaftNode } from '@p2p-mcp/consensus'
import { libp2pRaftTransport, Libp2pRaftTransport } from '@p2p-mcp/consensus/libp2p'
import { FileStorage } from '@p2p-mcp/consensus/node'
import { createLibp2p, type Libp2p } from 'libp2p'
import { ControlPlane } from '../src/control-plane/control-plane.js'
import { libp2pControlLink, serveControl } from '../src/control-plane/control-link.js'
import { startPeer, until, type Peer } from '../test/integration/peers.js'

const OPS = Number(process.env.BENCH_OPS ?? 300)
const SIZES = (process.env.BENCH_SIZES ?? '3,5,10').split(',').filter((x) => x !== '').map(Number)
const CONCURRENCY = 64

function pct (xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b)
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] ?? NaN
}
const fmt = (ms: number): string => ms.toFixed(ms < 10 ? 2 : 1)

async function measure (label: string, op: () => Promise<unknown>): Promise<void> {
  for (let i = 0; i < 20; i++) await op()
  const idle: number[] = []
  for (let i = 0; i < OPS; i++) { const t = performance.now(); await op(); idle.push(performance.now() - t) }
  const loaded: number[] = []
  let next = 0
  const t0 = performance.now()
  await Promise.all(Array.from({ length: CONCURRENCY }, async () => {
    while (next++ < OPS * 4) { const t = performance.now(); await op(); loaded.push(performance.now() - t) }
  }))
  const secs = (performance.now() - t0) / 1000
  console.log(`| ${label} | ${fmt(pct(idle, 50))} | ${fmt(pct(idle, 99))} | ${fmt(pct(loaded, 50))} | ${fmt(pct(loaded, 99))} | ${Math.round(loaded.length / secs)} |`)
}

async function proposalLatency (): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'control-bench-'))
  const nodes: Libp2p[] = []
  const planes: ControlPlane[] = []
  try {
    for (let i = 0; i < 4; i++) nodes.push(await createLibp2p({ addresses: { listen: ['/ip4/127.0.0.1/tcp/0'] }, transports: [tcp()], connectionEncrypters: [noise()], streamMuxers: [yamux()] }))
    for (const n of nodes) for (const m of nodes) if (n !== m) await n.peerStore.merge(m.peerId, { multiaddrs: m.getMultiaddrs() })
    for (const [i, node] of nodes.entries()) {
      const transport = libp2pRaftTransport(node, { members: [] })
      const plane: ControlPlane = new ControlPlane({
        self: node.peerId.toString(),
        hasBootstrap: i > 0,
        joinCandidates: () => (i === 0 ? [] : [nodes[0]!.peerId.toString()]),
        connected: () => true,
        link: libp2pControlLink(node),
        raftTransport: transport,
        onRaftPeers: (p) => { if (transport instanceof Libp2pRaftTransport) transport.setMembers(p) },
        dataDir: join(dir, String(i)),
        openStorage: async (d) => await FileStorage.open({ dir: d! }),
        maxVoters: 3,
        stabilizationMs: 1_000,
      })
      await serveControl(node, async (req, from) => await plane.handle(req, from))
      await plane.start()
      planes.push(plane)
      if (i === 0) await until('a leads', () => (plane.isLeader ? true : undefined), 10_000, 20)
    }
    const leader = planes[0]!
    await until('3 voters and a learner', () => (leader.status().voters.length === 3 && leader.status().learners.length === 1 ? true : undefined), 30_000, 50)
    const follower = planes.find((p) => p !== leader && p.status().role === 'voter')!
    const learner = planes.find((p) => p.status().role === 'learner')!
    await until('the learner caught up', () => (learner.policy !== undefined ? true : undefined), 10_000, 20)
    let n = 0
    const put = (p: ControlPlane) => async (): Promise<unknown> => await p.propose('kv', { op: 'put', ns: 'bench', key: `k${n++ % 100}`, value: n })
    console.log('| from | idle p50 ms | idle p99 ms | 64 writers p50 ms | 64 writers p99 ms | 64 writers ops/s |')
    console.log('| --- | --- | --- | --- | --- | --- |')
    const raft = (leader as unknown as { raft: RaftNode }).raft
    const bytes = new TextEncoder().encode(JSON.stringify({ v: 1, id: 'x'.repeat(40), module: 'kv', cv: 1, at: 0, cmd: { op: 'put', ns: 'bench', key: 'k1', value: 1 } }))
    await measure('leader, bare RaftNode.propose (baseline)', async () => await raft.propose(bytes))
    await measure('leader, control plane', put(leader))
    await measure('follower voter, control plane', put(follower))
    await measure('learner, control plane', put(learner))
  } finally {
    for (const p of planes) await p.stop()
    for (const n of nodes) await n.stop()
    await rm(dir, { recursive: true, force: true })
  }
}

async function formation (n: number): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'control-form-'))
  const peers: Peer[] = []
  const cfg = (name: string, bootstrap: string[]): Record<string, unknown> => ({
    name, dataDir: join(dir, name), bootstrap, logLevel: 'warn', heartbeatIntervalMs: 1_000, controlPlane: { stabilizationMs: 2_000, tickIntervalMs: 500 },
  })
  try {
    const t0 = performance.now()
    peers.push(await startPeer(dir, 'p0', cfg('p0', [])))
    const boot = [peers[0]!.multiaddrs[0]!]
    peers.push(...await Promise.all(Array.from({ length: n - 1 }, async (_, i) => await startPeer(dir, `p${i + 1}`, cfg(`p${i + 1}`, boot), 120_000))))
    const tUp = performance.now()
    const { Client } = await import('@modelcontextprotocol/sdk/client/index.js')
    const { StreamableHTTPClientTransport } = await import('@modelcontextprotocol/sdk/client/streamableHttp.js')
    const c = new Client({ name: 'bench', version: '1' })
    await c.connect(new StreamableHTTPClientTransport(new URL(peers[0]!.http!)))
    const voters = async (): Promise<number> => ((await c.callTool({ name: 'mesh__control_status', arguments: {} })).structuredContent as { voters: string[] }).voters.length
    const want = n >= 5 ? 5 : 3
    await until('3 voters', async () => ((await voters()) >= 3 ? true : undefined), 120_000, 25)
    const t3 = performance.now()
    await until(`${want} voters`, async () => ((await voters()) >= want ? true : undefined), 120_000, 25)
    const tWant = performance.now()
    await c.close()
    console.log(`| ${n} | ${Math.round(tUp - t0)} | ${Math.round(t3 - t0)} | ${Math.round(t3 - tUp)} | ${want} | ${Math.round(tWant - t0)} |`)
  } finally {
    await Promise.allSettled(peers.map(async (p) => { await p.kill('SIGTERM') }))
    await rm(dir, { recursive: true, force: true })
  }
}

console.log(`control-plane benchmark, ${new Date().toISOString()}, load average ${loadavg().map((x) => x.toFixed(2)).join(' ')}, OPS=${OPS}`)
console.log('\nA. proposal latency (kv put until applied at the proposer), 3 voters + 1 learner, FileStorage with fsync, libp2p TCP 127.0.0.1\n')
await proposalLatency()
console.log('\nB. time to form the group from a cold start (ms from the first process start)\n')
console.log('| peers | all processes ready | 3 voters | 3 voters after all ready | final voters | final voters reached |')
console.log('| --- | --- | --- | --- | --- | --- |')
for (const n of SIZES) await formation(n)
console.log(`\nload average at the end ${loadavg().map((x) => x.toFixed(2)).join(' ')}`)
process.exit(0)
