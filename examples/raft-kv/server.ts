// A linearizable key-value service on a Raft cluster: one process per member, each with its
// own data directory (FileStorage), talking Raft over libp2p on TCP, serving put/get/cas/append
// over HTTP on 127.0.0.1. Any member answers: followers forward writes to the leader, and
// reads go through ReadIndex. Usage:
//   node server.ts init --dir <d> --nodes 3 [--voters 3]   # keys, ports and cluster.json
//   node server.ts --config <d>/cluster.json --name n1 [--data <d>/n1] [--admin]
import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import { generateKeyPair, privateKeyFromProtobuf, privateKeyToProtobuf } from '@libp2p/crypto/keys'
import type { PeerId } from '@libp2p/interface'
import { peerIdFromPrivateKey, peerIdFromString } from '@libp2p/peer-id'
import { tcp } from '@libp2p/tcp'
import { multiaddr } from '@multiformats/multiaddr'
import { RaftNode } from '@p2p-mcp/consensus'
import type { Entry, Logger, StateMachine } from '@p2p-mcp/consensus'
import { Libp2pRaftTransport } from '@p2p-mcp/consensus/libp2p'
import { FileStorage } from '@p2p-mcp/consensus/node'
import { createLibp2p } from 'libp2p'
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { createServer } from 'node:http'
import type { IncomingMessage, ServerResponse } from 'node:http'
import { createServer as createNetServer } from 'node:net'
import { join } from 'node:path'
import { parseArgs } from 'node:util'

/** cluster.json: every member that may ever join, and the voters of the first configuration. */
export interface ClusterConfig {
  voters: string[]
  members: Array<{ name: string, peerId: string, key: string, raftPort: number, httpPort: number }>
}

type Op = { op: 'put', key: string, value: string } | { op: 'append', key: string, value: string } | { op: 'cas', key: string, expected: string | null, value: string }

/**
 * The replicated state machine: a map of strings. Each entry's `ctx` (the proposer's
 * request id) is applied once, since a forwarded proposal can be appended twice.
 */
class KvStore implements StateMachine {
  data = new Map<string, string>()
  private applied = new Map<string, unknown>()

  apply (e: Entry): unknown {
    if (e.ctx !== undefined && this.applied.has(e.ctx)) return this.applied.get(e.ctx)
    const op = JSON.parse(new TextDecoder().decode(e.data)) as Op
    let result: unknown = {}
    if (op.op === 'put') this.data.set(op.key, op.value)
    else if (op.op === 'append') this.data.set(op.key, (this.data.get(op.key) ?? '') + op.value)
    else {
      const ok = (this.data.get(op.key) ?? null) === op.expected
      if (ok) this.data.set(op.key, op.value)
      result = { ok }
    }
    if (e.ctx !== undefined) {
      this.applied.set(e.ctx, result)
      // Request ids only matter while a duplicate can still arrive: keep the last 100k.
      if (this.applied.size > 100_000) this.applied.delete(this.applied.keys().next().value!)
    }
    return result
  }

  snapshot (): Uint8Array { return new TextEncoder().encode(JSON.stringify({ data: [...this.data], applied: [...this.applied] })) }
  restore (bytes: Uint8Array): void {
    const s = JSON.parse(new TextDecoder().decode(bytes)) as { data: Array<[string, string]>, applied: Array<[string, unknown]> }
    this.data = new Map(s.data)
    this.applied = new Map(s.applied)
  }
}

const log: Logger = {
  debug () {},
  info: (msg, ...args) => { process.stderr.write(`info ${format(msg, args)}\n`) },
  warn: (msg, ...args) => { process.stderr.write(`warn ${format(msg, args)}\n`) },
  error: (msg, ...args) => { process.stderr.write(`error ${format(msg, args)}\n`) }
}
function format (msg: string, args: unknown[]): string {
  let i = 0
  return msg.replace(/%[sd]/g, () => String(args[i++]))
}

async function freePort (): Promise<number> {
  return await new Promise((resolve, reject) => {
    const s = createNetServer()
    s.once('error', reject)
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port
      s.close(() => { resolve(port) })
    })
  })
}

/** Writes `<dir>/cluster.json` with a fresh key and free ports for each member. */
export async function initCluster (dir: string, nodes: number, voters = nodes): Promise<ClusterConfig> {
  mkdirSync(dir, { recursive: true })
  const members: ClusterConfig['members'] = []
  for (let i = 1; i <= nodes; i++) {
    const key = await generateKeyPair('Ed25519')
    members.push({ name: `n${i}`, peerId: peerIdFromPrivateKey(key).toString(), key: Buffer.from(privateKeyToProtobuf(key)).toString('base64'), raftPort: await freePort(), httpPort: await freePort() })
  }
  const config: ClusterConfig = { voters: members.slice(0, voters).map(m => m.peerId), members }
  writeFileSync(join(dir, 'cluster.json'), JSON.stringify(config, null, 2))
  return config
}

async function readBody (req: IncomingMessage, max: number): Promise<string> {
  let size = 0
  const parts: Buffer[] = []
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.byteLength
    if (size > max) throw Object.assign(new Error(`body over ${max} bytes`), { status: 413 })
    parts.push(chunk)
  }
  return Buffer.concat(parts).toString('utf8')
}

function send (res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body)
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) })
  res.end(text)
}

/** HTTP status for a library error: retryable (503), unknown outcome (504), caller's fault (4xx). */
function statusOf (err: Error): number {
  switch (err.name) {
    case 'ProposalDroppedError': case 'DiskFullError': case 'NodeStoppedError': return 503
    case 'TimeoutError': return 504
    case 'PayloadTooLargeError': return 413
    default: return (err as Error & { status?: number }).status ?? 500
  }
}

async function serve (configPath: string, name: string, dataDir: string | undefined, admin: boolean, snapshotThreshold: number): Promise<void> {
  const config = JSON.parse(readFileSync(configPath, 'utf8')) as ClusterConfig
  const me = config.members.find(m => m.name === name)
  if (me === undefined) throw new Error(`member ${name} is not in ${configPath} (members: ${config.members.map(m => m.name).join(', ')})`)
  const blocked = new Set<string>()
  const deny = (peer: PeerId): boolean => blocked.has(peer.toString())
  const libp2p = await createLibp2p({
    privateKey: privateKeyFromProtobuf(Buffer.from(me.key, 'base64')),
    addresses: { listen: [`/ip4/127.0.0.1/tcp/${me.raftPort}`] },
    transports: [tcp()],
    connectionEncrypters: [noise()],
    streamMuxers: [yamux()],
    connectionManager: { allow: ['/ip4/127.0.0.0/ipcidr/8'] },
    // Partitions for tests: a blocked peer can neither dial us nor be dialled.
    connectionGater: { denyDialPeer: deny, denyInboundEncryptedConnection: deny, denyOutboundEncryptedConnection: deny }
  })
  for (const m of config.members) {
    if (m.peerId === me.peerId) continue
    await libp2p.peerStore.merge(peerIdFromString(m.peerId), { multiaddrs: [multiaddr(`/ip4/127.0.0.1/tcp/${m.raftPort}`)] })
  }
  const storage = await FileStorage.open({ dir: dataDir ?? join(configPath, '..', name), voters: config.voters, logger: log, blockingWrites: process.env.RAFT_KV_BLOCKING_WRITES !== '0' })
  const transport = new Libp2pRaftTransport(libp2p, { members: config.members.map(m => m.peerId), logger: log })
  const kv = new KvStore()
  const node = new RaftNode({ id: me.peerId, storage, transport, stateMachine: kv, tickMs: 50, electionTicks: 10, snapshotThreshold, logger: log })
  await node.start()

  const propose = async (op: Op): Promise<unknown> => await node.propose(new TextEncoder().encode(JSON.stringify(op)), { timeoutMs: 3_000 })
  const http = createServer((req, res) => {
    void (async () => {
      const url = new URL(req.url ?? '/', 'http://x')
      const [, kind, key] = url.pathname.split('/')
      try {
        if (kind === 'kv' && key !== undefined && key !== '' && req.method === 'PUT') {
          await propose({ op: 'put', key, value: await readBody(req, 1 << 20) })
          send(res, 200, { ok: true })
        } else if (kind === 'kv' && key !== undefined && key !== '' && req.method === 'GET') {
          await node.read({ timeoutMs: 3_000 })
          send(res, 200, { value: kv.data.get(key) ?? null })
        } else if (kind === 'append' && key !== undefined && key !== '' && req.method === 'POST') {
          await propose({ op: 'append', key, value: await readBody(req, 1 << 20) })
          send(res, 200, { ok: true })
        } else if (kind === 'cas' && key !== undefined && key !== '' && req.method === 'POST') {
          const body = JSON.parse(await readBody(req, 1 << 20)) as { expected?: unknown, value?: unknown }
          if (typeof body.value !== 'string' || (body.expected !== null && typeof body.expected !== 'string')) {
            send(res, 400, { error: 'body must be {"expected": string | null, "value": string}' })
            return
          }
          send(res, 200, await propose({ op: 'cas', key, expected: body.expected, value: body.value }))
        } else if (kind === 'status') {
          const s = node.status()
          send(res, 200, { name, id: me.peerId, role: s.role, leader: s.leader, term: s.term, commit: s.commit, applied: s.applied, voters: s.conf.voters, learners: s.conf.learners, transport: transport.stats, storage: storage.stats })
        } else if (admin && kind === 'admin' && key === 'block' && req.method === 'POST') {
          // Partition: refuse these peers from now on and cut the connections we have to them.
          const peers = JSON.parse(await readBody(req, 1 << 16)) as string[]
          blocked.clear()
          for (const p of peers) blocked.add(p)
          for (const c of libp2p.getConnections()) if (blocked.has(c.remotePeer.toString())) c.abort(new Error('partitioned by the test'))
          send(res, 200, { blocked: [...blocked] })
        } else if (admin && kind === 'admin' && key === 'membership' && req.method === 'POST') {
          await node.changeMembership(JSON.parse(await readBody(req, 1 << 16)) as { type: 'addVoter' | 'addLearner' | 'removeNode', node: string }, { timeoutMs: 5_000 })
          send(res, 200, { ok: true })
        } else if (admin && kind === 'admin' && key === 'transfer' && req.method === 'POST') {
          node.transferLeader(await readBody(req, 1 << 10))
          send(res, 200, { ok: true })
        } else {
          send(res, 404, { error: `no route ${req.method ?? ''} ${url.pathname}: use PUT/GET /kv/<key>, POST /append/<key>, POST /cas/<key>, GET /status` })
        }
      } catch (err) {
        const e = err instanceof Error ? err : new Error(String(err))
        if (!res.headersSent) send(res, e instanceof SyntaxError ? 400 : statusOf(e), { error: e.name, message: e.message, leader: node.leader })
      }
    })()
  })
  http.keepAliveTimeout = 60_000
  await new Promise<void>(resolve => http.listen(me.httpPort, '127.0.0.1', resolve))
  process.stdout.write(`RAFT_KV_READY ${JSON.stringify({ name, peerId: me.peerId, http: `http://127.0.0.1:${me.httpPort}` })}\n`)

  const shutdown = async (): Promise<void> => {
    http.close()
    await node.stop()
    await storage.close()
    await libp2p.stop()
    process.exit(0)
  }
  process.once('SIGTERM', () => { void shutdown() })
  process.once('SIGINT', () => { void shutdown() })
}

async function main (): Promise<void> {
  const { positionals, values } = parseArgs({
    allowPositionals: true,
    options: {
      dir: { type: 'string' }, nodes: { type: 'string' }, voters: { type: 'string' }, config: { type: 'string' }, name: { type: 'string' },
      data: { type: 'string' }, admin: { type: 'boolean' }, 'snapshot-threshold': { type: 'string' }
    }
  })
  if (positionals[0] === 'init') {
    if (values.dir === undefined) throw new Error('init needs --dir <directory>')
    const n = Number(values.nodes ?? 3)
    const config = await initCluster(values.dir, n, Number(values.voters ?? n))
    process.stdout.write(`${JSON.stringify(config.members.map(m => ({ name: m.name, http: `http://127.0.0.1:${m.httpPort}` })))}\n`)
    return
  }
  if (values.config === undefined || values.name === undefined) throw new Error('usage: node server.ts --config <cluster.json> --name <member> [--data <dir>] [--admin]  |  node server.ts init --dir <d> --nodes 3')
  await serve(values.config, values.name, values.data, values.admin === true, Number(values['snapshot-threshold'] ?? 10_000))
}

if (import.meta.url === `file://${process.argv[1]}`) {
  main().catch((err: unknown) => {
    process.stderr.write(`raft-kv: ${(err as Error).stack ?? String(err)}\n`)
    process.exit(1)
  })
}
