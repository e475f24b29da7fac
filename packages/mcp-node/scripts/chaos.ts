/**
 * Issue 17, the seeded chaos run (a script beside `npm test`, not part of it).
 *
 * Three `p2p-mcp start` processes on 127.0.0.1, started from config files as users run them
 * (the built CLI, `dist/cli.js`): an entry peer E with an HTTP front door hosting calc, and
 * two replicas R1, R2 hosting calc and ledger (examples/ledger-server, one shared ledger
 * file). Against E it drives, for `--duration` seconds:
 *   - a mixed load: `calc__add` and `calc__whoami` (read-only, idempotent),
 *     `ledger__record` (not idempotent: each call appends its own key to the ledger, so a
 *     duplicated execution is counted exactly), `calc__slow_count` with progress, and
 *     sessions opened, used once and abandoned (a quarter of them without DELETE);
 *   - faults, one at a time, chosen by the seed: SIGKILL + restart, SIGSTOP + SIGCONT and
 *     graceful restart of a replica peer, SIGKILL and SIGSTOP + SIGCONT of the upstream
 *     server processes of E and of the replicas;
 *   - abusive clients, each bounded in count and time: arguments nested 6,000 deep,
 *     oversized requests, slow-body initialize floods, session hoarding, requests whose
 *     responses are never read (libp2p, at a replica), throwaway peer identities opening
 *     sessions at a replica.
 * It reports calls, failures by cause, duplicated non-idempotent executions (must be 0),
 * latency percentiles during faults and outside them, the time for a restarted (or resumed)
 * replica to receive traffic, peak RSS of every peer, and the load average. Exit code 1 when
 * a non-idempotent call ran twice or a peer exited without being told to.
 *
 *   npm run build && node packages/mcp-node/scripts/chaos.ts --seed 42 --duration 600
 *
 * Options: --seed <int> (default: random, printed), --duration <s> (default 120),
 * --workers <n> legit client sessions (default 6), --no-abuse, --out <file.json>.
 */
import { type ChildProcess, spawn } from 'node:child_process'
import { mkdirSync, readFileSync, existsSync, writeFileSync, createWriteStream, mkdtempSync, rmSync, readdirSync } from 'node:fs'
import { connect as netConnect, createServer } from 'node:net'
import { loadavg, tmpdir, cpus } from 'node:os'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import { tcp } from '@libp2p/tcp'
import { multiaddr } from '@multiformats/multiaddr'
import { Client } from '@modelcontextprotocol/sdk/client/index.js'
import { StreamableHTTPClientTransport, StreamableHTTPError } from '@modelcontextprotocol/sdk/client/streamableHttp.js'
import { McpError } from '@modelcontextprotocol/sdk/types.js'
import { dialMcp, MCP_PROTOCOL } from '@p2p-mcp/transport'
import { mulberry32 } from '@p2p-mcp/testkit/random'
import { createLibp2p, type Libp2p } from 'libp2p'

const { values: opts } = parseArgs({
  options: {
    seed: { type: 'string' }, duration: { type: 'string', default: '120' }, workers: { type: 'string', default: '6' },
    'no-abuse': { type: 'boolean', default: false }, out: { type: 'string' }, root: { type: 'string' },
  },
})
const SEED = opts.seed === undefined ? Math.floor(Math.random() * 0x7fff_ffff) : Number(opts.seed)
const DURATION_MS = Number(opts.duration) * 1000
const WORKERS = Number(opts.workers)
if (!Number.isSafeInteger(SEED)) throw new TypeError(`--seed ${opts.seed} is not an integer`)
if (!(DURATION_MS > 0)) throw new TypeError(`--duration ${opts.duration} is not a positive number of seconds`)
if (!(Number.isInteger(WORKERS) && WORKERS > 0 && WORKERS <= 64)) throw new TypeError(`--workers ${opts.workers} is not 1 to 64`)
const ABUSE = opts['no-abuse'] !== true

const root = fileURLToPath(new URL('../../../', import.meta.url))
// The mesh may run from another built checkout (--root), e.g. to compare two versions with one driver.
const meshRoot = opts.root ?? root
const cli = join(meshRoot, 'packages', 'mcp-node', 'dist', 'cli.js')
const calcServer = join(meshRoot, 'examples', 'calc-server', 'server.mjs')
const ledgerServer = join(meshRoot, 'examples', 'ledger-server', 'server.mjs')
for (const f of [cli, calcServer, ledgerServer]) if (!existsSync(f)) throw new Error(`${f} is missing: run \`npm run build\` first`)

const print = (line: string): void => { process.stdout.write(`${line}\n`) }
const sleep = async (ms: number): Promise<void> => { await new Promise((resolve) => setTimeout(resolve, ms)) }
const T0 = Date.now()
const since = (): string => `${((Date.now() - T0) / 1000).toFixed(1)}s`

// mulberry32: the whole run's choices come from this one seeded stream (timing still varies).
const random = mulberry32(SEED)
const between = (lo: number, hi: number): number => lo + Math.floor(random() * (hi - lo + 1))
const pick = <T>(xs: readonly T[]): T => xs[Math.floor(random() * xs.length)]!

print(`chaos: mesh from ${meshRoot} (${gitHead(meshRoot)}), seed ${SEED} (replay: --seed ${SEED}), duration ${DURATION_MS / 1000} s, ${WORKERS} workers, abuse ${ABUSE ? 'on' : 'off'}, ${cpus().length} CPUs, load ${loadavg().map((x) => x.toFixed(2)).join(' ')}`)

// ---------------------------------------------------------------- peers as processes

function gitHead (dir: string): string {
  try {
    const head = readFileSync(join(dir, '.git'), 'utf8').trim()
    const gitDir = head.startsWith('gitdir: ') ? head.slice(8) : join(dir, '.git')
    const ref = readFileSync(join(gitDir, 'HEAD'), 'utf8').trim()
    return ref.startsWith('ref: ') ? `${ref.slice(5)}` : ref.slice(0, 12)
  } catch { return 'not a git checkout' }
}

const dir = mkdtempSync(join(tmpdir(), 'p2p-mcp-chaos-'))
const ledgerFile = join(dir, 'ledger.txt')
// Two principals at E's front door: the load's clients and the abusive ones (per-principal
// quotas, where the code has them, then tell them apart as a deployment with tokens would).
const LEGIT_TOKEN = `legit-${SEED}-0123456789abcdef`
const ABUSE_TOKEN = `abuse-${SEED}-0123456789abcdef`
const auth = (token: string): Record<string, string> => ({ authorization: `Bearer ${token}` })

async function freePort (): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer()
    s.once('error', reject)
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port
      s.close(() => { resolve(port) })
    })
  })
}

interface PeerState {
  name: string
  file: string
  child?: ChildProcess
  peerId?: string
  multiaddrs: string[]
  http?: string
  /** Set while the script itself stops or kills this peer: any other exit is a crash. */
  expectingExit: boolean
  stopped: boolean
  crashes: string[]
  incarnations: number
  peakRssKb: number
  peakUpstreamRssKb: number
}

const peers = new Map<string, PeerState>()

function peerConfig (name: string, port: number, upstreams: unknown[], extra: Record<string, unknown> = {}): string {
  const file = join(dir, `${name}.json`)
  writeFileSync(file, JSON.stringify({
    name, dataDir: join(dir, `data-${name}`), listen: [`/ip4/127.0.0.1/tcp/${port}`], heartbeatIntervalMs: 500, logLevel: 'warn', upstreams, ...extra,
  }, null, 2))
  return file
}

async function startPeer (p: PeerState): Promise<void> {
  p.expectingExit = false
  p.stopped = false
  p.incarnations++
  // A process group of its own, as `npm start` runs peers: a signal meant for the driver's group
  // (a closing terminal, the orphaned-group SIGHUP when a member is stopped) does not reach it.
  const child = spawn(process.execPath, [cli, 'start', '-c', p.file], { stdio: ['ignore', 'pipe', 'pipe'], detached: true })
  p.child = child
  const log = createWriteStream(join(dir, `${p.name}.log`), { flags: 'a' })
  child.stderr.pipe(log)
  child.once('exit', (code, signal) => {
    if (!p.expectingExit && !stopping) {
      p.crashes.push(`${since()}: exited (code ${code}, signal ${signal}) without being told to`)
      print(`chaos: ${since()} peer ${p.name} exited (code ${code}, signal ${signal}) without being told to; restarting it`)
      void startPeer(p).catch((err: unknown) => { print(`chaos: restart of ${p.name} failed: ${(err as Error).message}`) })
    }
  })
  const ready = await new Promise<{ peerId: string, multiaddrs: string[], http: string | null }>((resolve, reject) => {
    const lines = createInterface({ input: child.stdout })
    const timer = setTimeout(() => { reject(new Error(`peer ${p.name} not ready within 60 s (see ${dir}/${p.name}.log)`)) }, 60_000)
    child.once('exit', (code) => { clearTimeout(timer); reject(new Error(`peer ${p.name} exited (${code}) before it was ready (see ${dir}/${p.name}.log)`)) })
    lines.on('line', (line) => {
      try {
        const msg = JSON.parse(line) as { event?: string, peerId: string, multiaddrs: string[], http: string | null }
        if (msg.event === 'ready') { clearTimeout(timer); resolve(msg) }
      } catch { /* not the ready line */ }
    })
  })
  p.peerId = ready.peerId
  p.multiaddrs = ready.multiaddrs
  if (ready.http !== null) p.http = ready.http
}

/** Pids of a process's children (the upstream servers of a peer). */
function childrenOf (pid: number): number[] {
  try {
    return readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter((s) => s !== '').map(Number)
  } catch { return [] }
}
function cmdline (pid: number): string {
  try { return readFileSync(`/proc/${pid}/cmdline`, 'utf8').replaceAll('\0', ' ') } catch { return '' }
}
function rssKb (pid: number): number {
  try { return Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0) } catch { return 0 }
}
type Upstream = { pid: number, server: 'calc' | 'ledger' }
function upstreamPids (p: PeerState): Upstream[] {
  const pid = p.child?.pid
  if (pid === undefined) return []
  return childrenOf(pid).flatMap((c): Upstream[] => {
    const cmd = cmdline(c)
    return cmd.includes('calc-server') ? [{ pid: c, server: 'calc' }] : cmd.includes('ledger-server') ? [{ pid: c, server: 'ledger' }] : []
  })
}

function signal (pid: number | undefined, sig: NodeJS.Signals): void {
  if (pid === undefined) return
  try { process.kill(pid, sig) } catch { /* gone already */ }
}

async function killPeer (p: PeerState, sig: NodeJS.Signals): Promise<void> {
  const child = p.child
  if (child === undefined || child.exitCode !== null || child.signalCode !== null) return
  p.expectingExit = true
  const ups = upstreamPids(p)
  const exited = new Promise<void>((resolve) => { child.once('exit', () => { resolve() }) })
  if (p.stopped) { signal(child.pid, 'SIGCONT'); p.stopped = false }
  child.kill(sig)
  const timer = setTimeout(() => { child.kill('SIGKILL') }, 15_000)
  await exited
  clearTimeout(timer)
  // A SIGKILLed peer cannot stop its stdio servers; the operator's supervisor (here: us) does.
  for (const u of ups) signal(u.pid, 'SIGKILL')
}

// ---------------------------------------------------------------- measurements

interface CallRecord { op: string, start: number, end: number, ok: boolean, cause?: string, replica?: string }
const calls: CallRecord[] = []
/** [start, end] of each fault, extended by 2 s of recovery after it ended. */
const faultWindows: Array<[number, number]> = []
const faultLog: Array<{ at: string, action: string, target: string, detail?: string }> = []
interface Rejoin { kind: string, replica: string, readyAt: number, firstTrafficAt?: number, spawnedAt: number }
const rejoins: Rejoin[] = []
const recordKeys = new Map<string, { ok: boolean, cause?: string }>()
const abuse: Record<string, { runs: number, outcomes: Record<string, number> }> = {}
const progress = { calls: 0, expected: 0, received: 0 }
const loadSamples: number[] = []
let stopping = false

function abuseOutcome (kind: string, outcome: string, n = 1): void {
  const a = (abuse[kind] ??= { runs: 0, outcomes: {} })
  a.outcomes[outcome] = (a.outcomes[outcome] ?? 0) + n
}

function abuseRun (kind: string): void {
  (abuse[kind] ??= { runs: 0, outcomes: {} }).runs++
}

function normalize (s: string): string {
  return s.replace(/12D3Koo\w+/g, '<peer>').replace(/[0-9a-f]{8}-[0-9a-f-]{27}/g, '<uuid>').replace(/\d+(\.\d+)?/g, '#').slice(0, 140)
}
function causeOf (err: unknown): string {
  if (err instanceof McpError) return `mcp ${err.code}: ${normalize(err.message.replace(/^MCP error -?\d+: /, ''))}`
  if (err instanceof StreamableHTTPError) return `http ${err.code}: ${normalize(err.message)}`
  const e = err as Error & { cause?: { code?: string } }
  if (e?.cause?.code !== undefined) return `${e.name}: ${e.cause.code}`
  return `${e?.name ?? 'Error'}: ${normalize(String(e?.message ?? err))}`
}

function noteTraffic (replica: string | undefined, at: number): void {
  if (replica === undefined) return
  for (const r of rejoins) if (r.replica === replica && r.firstTrafficAt === undefined && at >= r.readyAt) r.firstTrafficAt = at
}

// ---------------------------------------------------------------- legit load

async function httpClient (name: string, token = LEGIT_TOKEN): Promise<{ client: Client, transport: StreamableHTTPClientTransport }> {
  const client = new Client({ name, version: '1.0.0' })
  const transport = new StreamableHTTPClientTransport(new URL(peers.get('E')!.http!), { requestInit: { headers: auth(token) } })
  await client.connect(transport, { timeout: 30_000 })
  return { client, transport }
}

async function oneCall (client: Client, op: string, worker: number, seq: number): Promise<CallRecord> {
  const start = Date.now()
  const rec: CallRecord = { op, start, end: start, ok: false }
  try {
    let result
    if (op === 'add') {
      const a = between(0, 1000); const b = between(0, 1000)
      result = await client.callTool({ name: 'calc__add', arguments: { a, b } }, undefined, { timeout: 30_000 })
      const sum = (result.structuredContent as { sum?: number } | undefined)?.sum
      if (result.isError !== true && sum !== a + b) throw new Error(`add(${a}, ${b}) answered ${String(sum)}`)
    } else if (op === 'whoami') {
      result = await client.callTool({ name: 'calc__whoami', arguments: {} }, undefined, { timeout: 30_000 })
      rec.replica = (result.structuredContent as { replica?: string } | undefined)?.replica
    } else if (op === 'record') {
      const key = `k${SEED}-${worker}-${seq}`
      recordKeys.set(key, { ok: false })
      try {
        result = await client.callTool({ name: 'ledger__record', arguments: { key } }, undefined, { timeout: 30_000 })
      } catch (err) { recordKeys.set(key, { ok: false, cause: causeOf(err) }); throw err }
      if (result.isError === true) recordKeys.set(key, { ok: false, cause: 'tool error' })
      else recordKeys.set(key, { ok: true })
      rec.replica = (result.structuredContent as { replica?: string } | undefined)?.replica
    } else if (op === 'slow_count') {
      const n = 5
      let got = 0
      progress.calls++
      result = await client.callTool({ name: 'calc__slow_count', arguments: { n, delayMs: 40 } }, undefined, {
        timeout: 30_000, resetTimeoutOnProgress: true, onprogress: () => { got++ },
      })
      if (result.isError !== true) { progress.expected += n; progress.received += got }
    } else {
      await client.listTools(undefined, { timeout: 30_000 })
    }
    if (result?.isError === true) {
      const text = (result.content as Array<{ text?: string }> | undefined)?.[0]?.text ?? ''
      rec.cause = `tool error: ${normalize(text)}`
    } else rec.ok = true
  } catch (err) {
    rec.cause = causeOf(err)
  }
  rec.end = Date.now()
  if (rec.ok) noteTraffic(rec.replica, rec.end)
  calls.push(rec)
  return rec
}

const OPS: Array<[string, number]> = [['add', 30], ['whoami', 25], ['record', 30], ['slow_count', 10], ['list', 5]]
function pickOp (): string {
  let r = random() * 100
  for (const [op, w] of OPS) { r -= w; if (r < 0) return op }
  return 'add'
}

async function worker (id: number, until: number): Promise<void> {
  let session: { client: Client, transport: StreamableHTTPClientTransport } | undefined
  let seq = 0
  while (Date.now() < until) {
    if (session === undefined) {
      try { session = await httpClient(`chaos-worker-${id}`) } catch (err) {
        calls.push({ op: 'initialize', start: Date.now(), end: Date.now(), ok: false, cause: causeOf(err) })
        await sleep(500)
        continue
      }
    }
    const rec = await oneCall(session.client, pickOp(), id, seq++)
    // A session the front door no longer knows (or a broken connection) is replaced.
    if (!rec.ok && rec.cause !== undefined && /^http 404|Session not found|fetch failed|ECONNRE|Not connected|closed/i.test(rec.cause)) {
      await session.client.close().catch(() => {})
      session = undefined
    }
    await sleep(between(0, 20))
  }
  if (session !== undefined) {
    await session.transport.terminateSession().catch(() => {})
    await session.client.close().catch(() => {})
  }
}

/** Sessions opened, used for one call (whoami: new sessions are where a rejoined replica's first traffic shows) and abandoned: three in four with DELETE, the rest without. */
async function abandoner (until: number): Promise<void> {
  let n = 0
  abuseRun('abandoned sessions')
  while (Date.now() < until) {
    await sleep(between(300, 700))
    try {
      const s = await httpClient(`chaos-abandon-${n}`)
      await oneCall(s.client, 'whoami', -1, n)
      if (random() < 0.75) { await s.transport.terminateSession(); abuseOutcome('abandoned sessions', 'deleted') } else abuseOutcome('abandoned sessions', 'left open')
      await s.client.close()
    } catch (err) {
      abuseOutcome('abandoned sessions', `failed: ${causeOf(err)}`)
    }
    n++
  }
}

// ---------------------------------------------------------------- faults

function replicaNames (): string[] { return ['R1', 'R2'] }

function rejoined (p: PeerState, kind: string, spawnedAt: number): void {
  rejoins.push({ kind, replica: p.name, spawnedAt, readyAt: Date.now() })
}

async function fault (): Promise<void> {
  const action = pick(['kill-replica', 'stop-replica', 'restart-replica', 'kill-upstream', 'stop-upstream', 'kill-upstream', 'stop-upstream'])
  const start = Date.now()
  if (action === 'kill-replica' || action === 'stop-replica' || action === 'restart-replica') {
    const p = peers.get(pick(replicaNames()))!
    if (action === 'stop-replica') {
      const ms = between(3000, 10_000)
      faultLog.push({ at: since(), action, target: p.name, detail: `${ms} ms` })
      signal(p.child?.pid, 'SIGSTOP'); p.stopped = true
      await sleep(ms)
      signal(p.child?.pid, 'SIGCONT'); p.stopped = false
      rejoined(p, 'SIGCONT', Date.now())
    } else {
      const down = action === 'kill-replica' ? between(500, 4000) : 0
      faultLog.push({ at: since(), action, target: p.name, detail: action === 'kill-replica' ? `down ${down} ms` : 'SIGTERM' })
      await killPeer(p, action === 'kill-replica' ? 'SIGKILL' : 'SIGTERM')
      await sleep(down)
      const spawnedAt = Date.now()
      await startPeer(p)
      rejoined(p, action === 'kill-replica' ? 'SIGKILL + restart' : 'SIGTERM + restart', spawnedAt)
    }
  } else {
    const p = peers.get(pick(['E', 'R1', 'R2']))!
    const ups = upstreamPids(p)
    if (ups.length === 0) { faultLog.push({ at: since(), action, target: p.name, detail: 'no upstream process (restarting)' }); return }
    const u = pick(ups)
    if (action === 'kill-upstream') {
      faultLog.push({ at: since(), action, target: `${p.name}/${u.server}` })
      signal(u.pid, 'SIGKILL')
      await sleep(2000)
    } else {
      const ms = between(2000, 8000)
      faultLog.push({ at: since(), action, target: `${p.name}/${u.server}`, detail: `${ms} ms` })
      signal(u.pid, 'SIGSTOP')
      await sleep(ms)
      signal(u.pid, 'SIGCONT')
    }
  }
  faultWindows.push([start, Date.now() + 2000])
}

async function faults (until: number): Promise<void> {
  await sleep(5000)
  while (Date.now() < until - 10_000) {
    try { await fault() } catch (err) { faultLog.push({ at: since(), action: 'error', target: '-', detail: (err as Error).message }) }
    await sleep(between(2000, 6000))
  }
}

// ---------------------------------------------------------------- abusive clients

function httpBase (): URL { return new URL(peers.get('E')!.http!) }
const ACCEPT = 'application/json, text/event-stream'
const INIT = { jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'chaos-abuser', version: '1' } } }

/** A raw session: initialize + initialized; returns its id, or undefined when refused. */
async function rawSession (): Promise<{ id?: string, status: number }> {
  const res = await fetch(httpBase(), { method: 'POST', headers: { 'content-type': 'application/json', accept: ACCEPT, ...auth(ABUSE_TOKEN) }, body: JSON.stringify(INIT), signal: AbortSignal.timeout(15_000) })
  await res.text()
  const id = res.headers.get('mcp-session-id') ?? undefined
  if (id !== undefined) {
    await (await fetch(httpBase(), {
      method: 'POST', headers: { 'content-type': 'application/json', accept: ACCEPT, 'mcp-session-id': id, 'mcp-protocol-version': '2025-06-18', ...auth(ABUSE_TOKEN) },
      body: JSON.stringify({ jsonrpc: '2.0', method: 'notifications/initialized' }), signal: AbortSignal.timeout(15_000),
    })).text()
  }
  return { id, status: res.status }
}

/** Raw JSON-RPC POSTs on a raw session (bodies the SDK client would refuse to build); returns "http <status> rpc <code>" per body. */
async function rawPosts (kind: string, bodies: string[]): Promise<void> {
  const { id, status } = await rawSession()
  if (id === undefined) { abuseOutcome(kind, `no session: http ${status}`); return }
  const headers = { 'content-type': 'application/json', accept: ACCEPT, 'mcp-session-id': id, 'mcp-protocol-version': '2025-06-18', ...auth(ABUSE_TOKEN) }
  try {
    await Promise.all(bodies.map(async (body) => {
      try {
        const res = await fetch(httpBase(), { method: 'POST', headers, body, signal: AbortSignal.timeout(20_000) })
        const text = await res.text()
        const code = /"code":\s*(-?\d+)/.exec(text)?.[1]
        abuseOutcome(kind, `http ${res.status}${code === undefined ? (/"result"/.test(text) ? ' result' : '') : ` rpc ${code}`}`)
      } catch (err) { abuseOutcome(kind, causeOf(err)) }
    }))
  } finally {
    await fetch(httpBase(), { method: 'DELETE', headers }).then(async (r) => r.text()).catch(() => {})
  }
}

/** Four tool calls whose arguments nest 6,000 levels deep (12 KB each), to each server. */
async function deepNesting (): Promise<void> {
  abuseRun('deep nesting')
  const deep = `${'{"a":'.repeat(6000)}1${'}'.repeat(6000)}`
  const call = (i: number, name: string, args: string): string => `{"jsonrpc":"2.0","id":${i},"method":"tools/call","params":{"name":"${name}","arguments":${args}}}`
  await rawPosts('deep nesting', [
    call(2, 'calc__add', `{"a":${deep},"b":1}`), call(3, 'calc__whoami', `{"x":${deep}}`),
    call(4, 'ledger__record', `{"key":${deep}}`), call(5, 'calc__add', `{"a":${deep},"b":2}`),
  ])
}

/** A 5 MiB request body, and a 3.5 MB argument (under the body limit, over the libp2p frame budget once wrapped). */
async function oversized (): Promise<void> {
  abuseRun('oversized request')
  await rawPosts('oversized request', [
    JSON.stringify({ jsonrpc: '2.0', id: 2, method: 'tools/call', params: { name: 'calc__add', arguments: { a: 1, b: 2, pad: 'x'.repeat(5 * 1024 * 1024) } } }),
    JSON.stringify({ jsonrpc: '2.0', id: 3, method: 'tools/call', params: { name: 'ledger__record', arguments: { key: 'x'.repeat(3_500_000) } } }),
    JSON.stringify({ jsonrpc: '2.0', id: 4, method: 'tools/call', params: { name: 'calc__whoami', arguments: { pad: 'x'.repeat(4_100_000) } } }),
  ])
}

/** Initialize requests whose bodies arrive one byte a second: `count` sockets for `ms`. */
async function slowBodyFlood (count = 300, ms = 35_000): Promise<void> {
  abuseRun('slow-body initialize flood')
  const url = httpBase()
  const body = JSON.stringify(INIT)
  await Promise.all(Array.from({ length: count }, async () => new Promise<void>((resolve) => {
    const sock = netConnect(Number(url.port), url.hostname)
    let answered = ''
    let sent = 0
    const tick = setInterval(() => { if (sent < body.length - 1) sock.write(body[sent++]!) }, 1000)
    const end = setTimeout(() => { sock.destroy() }, ms)
    sock.on('connect', () => {
      sock.write(`POST ${url.pathname} HTTP/1.1\r\nHost: ${url.host}\r\nAuthorization: Bearer ${ABUSE_TOKEN}\r\nContent-Type: application/json\r\nAccept: ${ACCEPT}\r\nContent-Length: ${body.length}\r\n\r\n`)
    })
    sock.on('data', (d: Buffer) => { if (answered === '') answered = d.toString('latin1').split('\r\n')[0] ?? '' })
    sock.on('error', () => {})
    sock.on('close', () => {
      clearInterval(tick); clearTimeout(end)
      abuseOutcome('slow-body initialize flood', answered === '' ? 'held until we gave up' : `answered early: ${answered}`)
      resolve()
    })
  })))
}

/** `count` initialised sessions held for `ms`, then abandoned without DELETE. */
async function hoard (count = 300, ms = 30_000): Promise<void> {
  abuseRun('session hoarding')
  const results = await Promise.allSettled(Array.from({ length: count }, async () => rawSession()))
  for (const r of results) abuseOutcome('session hoarding', r.status === 'fulfilled' ? (r.value.id !== undefined ? 'held' : `refused http ${r.value.status}`) : causeOf(r.reason))
  await sleep(ms)
}

async function scratchNode (): Promise<Libp2p> {
  return createLibp2p({
    addresses: { listen: [] }, transports: [tcp()], connectionEncrypters: [noise()], streamMuxers: [yamux()],
    connectionManager: { allow: ['/ip4/127.0.0.0/ipcidr/8'] },
  })
}

function varint (n: number): Uint8Array {
  const out: number[] = []
  while (n >= 0x80) { out.push((n & 0x7f) | 0x80); n >>>= 7 }
  out.push(n)
  return Uint8Array.from(out)
}
function frame (msg: unknown): Uint8Array {
  const body = new TextEncoder().encode(JSON.stringify(msg))
  const head = varint(body.length)
  const out = new Uint8Array(head.length + body.length)
  out.set(head); out.set(body, head.length)
  return out
}

/** A libp2p session at a replica that sends `count` tools/list requests and never reads an answer; held for `ms`. */
async function unreadResponses (count = 2000, ms = 15_000): Promise<void> {
  abuseRun('unread responses (libp2p)')
  const target = peers.get(pick(replicaNames()))!
  if (target.stopped || target.multiaddrs[0] === undefined) { abuseOutcome('unread responses (libp2p)', 'skipped: target down'); return }
  const node = await scratchNode()
  try {
    const conn = await node.dial(multiaddr(target.multiaddrs[0]), { signal: AbortSignal.timeout(10_000) })
    const stream = await conn.newStream(MCP_PROTOCOL, { signal: AbortSignal.timeout(10_000) })
    let resetBy = ''
    stream.addEventListener('close', (ev) => { resetBy = (ev as unknown as { error?: Error }).error?.name ?? 'closed' })
    stream.pause()
    stream.send(frame(INIT))
    stream.send(frame({ jsonrpc: '2.0', method: 'notifications/initialized' }))
    let sent = 0
    for (; sent < count && resetBy === ''; sent++) {
      if (!stream.send(frame({ jsonrpc: '2.0', id: 10 + sent, method: 'tools/list', params: {} }))) {
        await stream.onDrain({ signal: AbortSignal.timeout(5000) }).catch(() => {})
      }
    }
    const deadline = Date.now() + ms
    while (Date.now() < deadline && resetBy === '') await sleep(250)
    abuseOutcome('unread responses (libp2p)', resetBy === '' ? `${sent} sent, stream kept open ${ms} ms` : `${sent} sent, stream ended by the server (${resetBy})`)
    stream.abort(new Error('chaos: done'))
  } catch (err) {
    abuseOutcome('unread responses (libp2p)', causeOf(err))
  } finally {
    await node.stop()
  }
}

/** `identities` fresh peer ids, each opening `sessions` MCP sessions at a replica and abandoning them. */
async function throwawayIdentities (identities = 20, sessions = 5, ms = 20_000): Promise<void> {
  abuseRun('throwaway identities')
  const target = peers.get(pick(replicaNames()))!
  if (target.stopped || target.multiaddrs[0] === undefined) { abuseOutcome('throwaway identities', 'skipped: target down'); return }
  const nodes = await Promise.all(Array.from({ length: identities }, async () => scratchNode()))
  try {
    await Promise.all(nodes.map(async (node) => {
      for (let i = 0; i < sessions; i++) {
        try {
          const client = new Client({ name: 'chaos-throwaway', version: '1' })
          await client.connect(await dialMcp(node, target.multiaddrs[0]!, { signal: AbortSignal.timeout(10_000) }), { timeout: 10_000 })
          abuseOutcome('throwaway identities', 'session opened')
        } catch (err) { abuseOutcome('throwaway identities', causeOf(err)) }
      }
    }))
    await sleep(ms)
  } finally {
    await Promise.allSettled(nodes.map(async (n) => n.stop()))
  }
}

async function abusers (until: number): Promise<void> {
  const kinds: Array<() => Promise<void>> = [deepNesting, oversized, async () => slowBodyFlood(), async () => hoard(), async () => unreadResponses(), async () => throwawayIdentities()]
  await sleep(8000)
  let hoards = 0
  let round: Array<() => Promise<void>> = []
  while (Date.now() < until - 20_000) {
    // each kind once per round, in a seeded order
    if (round.length === 0) round = kinds.map((k) => ({ k, r: random() })).sort((a, b) => a.r - b.r).map((x) => x.k)
    let k = round.shift()!
    // at most 4 hoards (1,200 sessions) a run: bounded; past the default 1,024-session cap where abandoned sessions live on
    if (k === kinds[3] && hoards++ >= 4) k = deepNesting
    const t = Date.now()
    try { await k() } catch (err) { abuseOutcome('abuser errors', causeOf(err)) }
    if (Date.now() - t < 5000) await sleep(between(5000, 15_000))
  }
}

// ---------------------------------------------------------------- sampling

function sampleRss (): void {
  for (const p of peers.values()) {
    const pid = p.child?.pid
    if (pid === undefined) continue
    p.peakRssKb = Math.max(p.peakRssKb, rssKb(pid))
    for (const u of upstreamPids(p)) p.peakUpstreamRssKb = Math.max(p.peakUpstreamRssKb, rssKb(u.pid))
  }
}

function quantile (xs: number[], q: number): number {
  if (xs.length === 0) return Number.NaN
  const s = [...xs].sort((a, b) => a - b)
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil(q * s.length) - 1))]!
}

function readLedger (): Map<string, string[]> {
  const byKey = new Map<string, string[]>()
  if (!existsSync(ledgerFile)) return byKey
  for (const line of readFileSync(ledgerFile, 'utf8').split('\n')) {
    if (line === '') continue
    const [key, , replica] = line.split(' ')
    byKey.set(key!, [...(byKey.get(key!) ?? []), replica ?? '?'])
  }
  return byKey
}

// ---------------------------------------------------------------- the run

const cleanup = (): void => {
  for (const p of peers.values()) {
    for (const u of upstreamPids(p)) { signal(u.pid, 'SIGCONT'); signal(u.pid, 'SIGKILL') }
    signal(p.child?.pid, 'SIGCONT'); signal(p.child?.pid, 'SIGKILL')
  }
}
process.once('exit', cleanup)
for (const sig of ['SIGINT', 'SIGTERM'] as const) process.once(sig, () => { cleanup(); process.exit(130) })

let exitCode = 0
try {
  const [pE, p1, p2] = [await freePort(), await freePort(), await freePort()]
  const calc = (id: string): unknown => ({ name: 'calc', type: 'stdio', command: process.execPath, args: [calcServer], env: { REPLICA_ID: id } })
  const ledger = (id: string): unknown => ({ name: 'ledger', type: 'stdio', command: process.execPath, args: [ledgerServer], env: { REPLICA_ID: id, LEDGER_FILE: ledgerFile } })
  const mk = (name: string, file: string): PeerState => ({ name, file, multiaddrs: [], expectingExit: false, stopped: false, crashes: [], incarnations: 0, peakRssKb: 0, peakUpstreamRssKb: 0 })
  const E = mk('E', peerConfig('E', pE, [calc('E')], { http: { port: 0, tokens: [{ token: LEGIT_TOKEN, subject: 'load' }, { token: ABUSE_TOKEN, subject: 'abuser' }] } }))
  peers.set('E', E)
  await startPeer(E)
  const bootstrap = [E.multiaddrs[0]!]
  for (const [name, port] of [['R1', p1], ['R2', p2]] as const) {
    peers.set(name, mk(name, peerConfig(name, port, [calc(name), ledger(name)], { bootstrap, http: { enabled: false } })))
  }
  await Promise.all(replicaNames().map(async (n) => startPeer(peers.get(n)!)))
  // The mesh is ready when E routes to both replicas: whoami has answered from R1 and R2, and ledger__record works.
  // Sessions stick to a replica, so each probe opens a session of its own.
  const seen = new Set<string>()
  const readyBy = Date.now() + 60_000
  while (!(seen.has('R1') && seen.has('R2')) && Date.now() < readyBy) {
    const probe = await httpClient('chaos-probe').catch(() => undefined)
    if (probe === undefined) { await sleep(500); continue }
    const r = await probe.client.callTool({ name: 'calc__whoami', arguments: {} }).catch(() => undefined)
    const replica = (r?.structuredContent as { replica?: string } | undefined)?.replica
    if (replica !== undefined) seen.add(replica); else await sleep(200)
    await probe.transport.terminateSession().catch(() => {})
    await probe.client.close()
  }
  if (!(seen.has('R1') && seen.has('R2'))) throw new Error(`E does not route to both replicas after 60 s (saw ${[...seen].join(', ')}); logs in ${dir}`)
  print(`chaos: ${since()} mesh up (E ${E.http}); replicas seen: ${[...seen].sort().join(', ')}; running for ${DURATION_MS / 1000} s`)

  const runStart = Date.now()
  const until = runStart + DURATION_MS
  const rssTimer = setInterval(sampleRss, 1000)
  const loadTimer = setInterval(() => { loadSamples.push(loadavg()[0]!) }, 5000)
  const statusTimer = setInterval(() => {
    const ok = calls.filter((c) => c.ok).length
    print(`chaos: ${since()} ${calls.length} calls, ${calls.length - ok} failed, ${faultLog.length} faults, load ${loadavg()[0]!.toFixed(2)}`)
  }, 30_000)
  const load0 = loadavg()
  await Promise.all([
    ...Array.from({ length: WORKERS }, async (_, i) => worker(i, until)),
    abandoner(until),
    faults(until),
    ...(ABUSE ? [abusers(until)] : []),
  ])
  clearInterval(rssTimer); clearInterval(loadTimer); clearInterval(statusTimer)
  sampleRss()
  const load1 = loadavg()
  // In-flight ledger appends have landed once every call returned; give the files a moment to flush.
  await sleep(1000)

  // ---- report
  const ledgerByKey = readLedger()
  let duplicated = 0
  const duplicates: string[] = []
  for (const [key, rs] of ledgerByKey) if (rs.length > 1) { duplicated++; if (duplicates.length < 10) duplicates.push(`${key} ×${rs.length} (${rs.join(', ')})`) }
  let okMissing = 0
  let failedButRan = 0
  for (const [key, r] of recordKeys) {
    const n = ledgerByKey.get(key)?.length ?? 0
    if (r.ok && n === 0) okMissing++
    if (!r.ok && n > 0) failedButRan++
  }
  const failures: Record<string, number> = {}
  for (const c of calls) if (!c.ok) failures[`${c.op}: ${c.cause}`] = (failures[`${c.op}: ${c.cause}`] ?? 0) + 1
  const inFault = (c: CallRecord): boolean => faultWindows.some(([a, b]) => c.start <= b && c.end >= a)
  const fast = calls.filter((c) => c.op === 'add' || c.op === 'whoami' || c.op === 'record')
  const lat = (xs: CallRecord[]): { n: number, p50: number, p99: number, max: number } => {
    const d = xs.map((c) => c.end - c.start)
    return { n: d.length, p50: quantile(d, 0.5), p99: quantile(d, 0.99), max: d.length === 0 ? Number.NaN : Math.max(...d) }
  }
  const byOp: Record<string, { calls: number, failed: number }> = {}
  for (const c of calls) {
    const o = (byOp[c.op] ??= { calls: 0, failed: 0 })
    o.calls++; if (!c.ok) o.failed++
  }
  const servedBy: Record<string, number> = {}
  for (const c of calls) if (c.ok && c.replica !== undefined) servedBy[c.replica] = (servedBy[c.replica] ?? 0) + 1
  const crashes = [...peers.values()].flatMap((p) => p.crashes.map((c) => `${p.name} ${c}`))
  const result = {
    mesh: { root: meshRoot, head: gitHead(meshRoot) }, seed: SEED, durationS: DURATION_MS / 1000, workers: WORKERS, abusiveClients: ABUSE, date: new Date().toISOString(), node: process.version,
    cpus: cpus().length,
    loadAverage: { start: load0.map((x) => +x.toFixed(2)), end: load1.map((x) => +x.toFixed(2)), mean1m: +(loadSamples.reduce((a, b) => a + b, 0) / Math.max(1, loadSamples.length)).toFixed(2) },
    calls: calls.length, failed: calls.filter((c) => !c.ok).length, byOp,
    failuresByCause: Object.fromEntries(Object.entries(failures).sort((a, b) => b[1] - a[1])),
    nonIdempotent: { calls: recordKeys.size, ledgerLines: [...ledgerByKey.values()].reduce((a, r) => a + r.length, 0), duplicatedExecutions: duplicated, duplicates, succeededButNotInLedger: okMissing, failedButExecutedOnce: failedButRan },
    latencyMs: { 'add/whoami/record, all': lat(fast), 'during faults': lat(fast.filter(inFault)), 'outside faults': lat(fast.filter((c) => !inFault(c))), 'during faults, successful only': lat(fast.filter((c) => c.ok && inFault(c))) },
    progress,
    servedBy,
    rejoinMs: rejoins.map((r) => ({ kind: r.kind, replica: r.replica, readyAfterSpawnMs: r.kind === 'SIGCONT' ? 0 : r.readyAt - r.spawnedAt, firstTrafficAfterReadyMs: r.firstTrafficAt === undefined ? null : r.firstTrafficAt - r.readyAt })),
    peakRssMB: Object.fromEntries([...peers.values()].map((p) => [p.name, { peer: Math.round(p.peakRssKb / 1024), largestUpstream: Math.round(p.peakUpstreamRssKb / 1024), incarnations: p.incarnations }])),
    faults: faultLog,
    abuse,
    crashes,
    logs: dir,
  }
  const rejoinTimes = result.rejoinMs.map((r) => r.firstTrafficAfterReadyMs)
  print('')
  print(`seed ${SEED}: ${result.calls} calls, ${result.failed} failed (${(100 * result.failed / Math.max(1, result.calls)).toFixed(2)} %), ${faultLog.length} faults`)
  print(`non-idempotent: ${result.nonIdempotent.calls} calls, ${duplicated} duplicated executions, ${okMissing} successes missing from the ledger, ${failedButRan} failed calls that did run (once)`)
  print(`latency add/whoami/record: all p50 ${result.latencyMs['add/whoami/record, all'].p50} p99 ${result.latencyMs['add/whoami/record, all'].p99} ms; during faults p99 ${result.latencyMs['during faults'].p99} ms; outside p99 ${result.latencyMs['outside faults'].p99} ms`)
  print(`rejoin (ms from ready/SIGCONT to first call served): ${rejoinTimes.map((t) => t ?? 'never').join(', ')}`)
  print(`peak RSS MB: ${Object.entries(result.peakRssMB).map(([n, r]) => `${n} ${r.peer} (upstream ${r.largestUpstream})`).join(', ')}`)
  print(`load average: start ${result.loadAverage.start.join(' ')}, end ${result.loadAverage.end.join(' ')}, mean 1-min ${result.loadAverage.mean1m}`)
  print(`crashes: ${crashes.length === 0 ? 'none' : crashes.join('; ')}`)
  print(JSON.stringify(result, null, 2))
  const out = opts.out ?? join(root, '.bench-results', `chaos-${SEED}-${Date.now()}.json`)
  mkdirSync(join(out, '..'), { recursive: true })
  writeFileSync(out, `${JSON.stringify(result, null, 2)}\n`)
  print(`written to ${out}`)
  if (duplicated > 0 || crashes.length > 0) exitCode = 1
} catch (err) {
  print(`chaos: ${(err as Error).stack ?? String(err)}`)
  exitCode = 1
} finally {
  stopping = true
  await Promise.allSettled([...peers.values()].map(async (p) => killPeer(p, 'SIGTERM')))
  cleanup()
  if (exitCode === 0 && readdirSync(dir).length > 0) rmSync(dir, { recursive: true, force: true })
}
process.exit(exitCode)
