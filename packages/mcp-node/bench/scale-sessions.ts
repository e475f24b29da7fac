/**
 * Issue 17, the scale benchmark: SESSIONS (default 10,000) initialised MCP sessions on one
 * entry peer's HTTP front door, each calling `calc__add` every INTERVAL_MS (default 10 s),
 * where calc is served by two replica peers (examples/calc-server as a stdio child of each).
 * Three `p2p-mcp start` processes on TCP 127.0.0.1; the load comes from `scale-load.ts` in a
 * process of its own (a lean raw-HTTP client: see there).
 *
 * Phases (PHASES, default `entry,direct`), one after the other in one run:
 *   entry   the load on the entry peer, which hosts nothing: every call crosses a libp2p hop
 *   direct  the same load on replica r1's own front door (its pool takes r1's calc in memory
 *           and r2's over libp2p): the baseline without the entry peer
 * For the peer under load it reports RSS and V8 heap before the sessions, once all are open
 * and at the end of the hold (per session: the growth divided by the sessions), open file
 * descriptors, and the generator's p50/p99 call latency, calls/s and errors; RSS and fds of
 * every peer; the load average before and after.
 *
 *   node --import ../testkit/src/ts-hooks.ts bench/scale-sessions.ts     (from packages/mcp-node)
 *   SESSIONS=2000 HOLD_S=30 PHASES=entry node --import ../testkit/src/ts-hooks.ts bench/scale-sessions.ts
 *
 * Results: stdout (a markdown table) and .bench-results/scale-sessions-<N>-<time>.json.
 */
import { spawn } from 'node:child_process'
import { mkdirSync, writeFileSync } from 'node:fs'
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises'
import { cpus, loadavg, tmpdir, totalmem } from 'node:os'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import { Client } from '@modelcontextprotocol/sdk/client/index.js'
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js'
import { calcServer, startPeer, until, type Peer } from '../test/integration/peers.js'

const SESSIONS = Number(process.env.SESSIONS ?? 10_000)
const INTERVAL_MS = Number(process.env.INTERVAL_MS ?? 10_000)
const HOLD_S = Number(process.env.HOLD_S ?? 60)
const PHASES = (process.env.PHASES ?? 'entry,direct').split(',')
const generator = fileURLToPath(new URL('./scale-load.ts', import.meta.url))
const print = (line: string): void => { process.stdout.write(`${line}\n`) }
const round = (x: number, d = 1): number => Math.round(x * 10 ** d) / 10 ** d

interface Sample { rssMB: number, heapMB: number, fds: number, httpSessions: number }

async function sample (peer: Peer): Promise<Sample> {
  const pid = peer.child.pid!
  const rss = Number(/VmRSS:\s+(\d+)/.exec(await readFile(`/proc/${pid}/status`, 'utf8'))?.[1] ?? NaN) / 1024
  const fds = (await readdir(`/proc/${pid}/fd`)).length
  let heap = NaN
  let httpSessions = NaN
  if (peer.http !== null) {
    const text = await (await fetch(new URL('/metrics', peer.http))).text().catch(() => '')
    const m = /^p2p_mcp_nodejs_heap_size_used_bytes (\S+)/m.exec(text)
    if (m !== null) heap = Number(m[1]) / 2 ** 20
    httpSessions = Number(/^p2p_mcp_sessions\{door="http"\} (\S+)/m.exec(text)?.[1] ?? 0)
  }
  return { rssMB: round(rss), heapMB: round(heap), fds, httpSessions }
}

async function replicasOf (url: string): Promise<number> {
  const client = new Client({ name: 'scale-probe', version: '1.0.0' })
  const transport = new StreamableHTTPClientTransport(new URL(url))
  await client.connect(transport)
  try {
    const st = (await client.callTool({ name: 'mesh__status', arguments: {} })).structuredContent as { servers: Array<{ name: string, pool?: unknown[] }> }
    return st.servers.find((s) => s.name === 'calc')?.pool?.length ?? 0
  } finally {
    await transport.terminateSession().catch(() => {})
    await client.close()
  }
}

/** Runs the generator against `target`; samples `peers` meanwhile. */
async function phase (name: string, target: Peer, peers: Peer[]): Promise<Record<string, unknown>> {
  // Let the sessions of an earlier phase go and the heap settle.
  await new Promise((resolve) => setTimeout(resolve, 5_000))
  const before = await sample(target)
  const child = spawn(process.execPath, [generator], {
    stdio: ['ignore', 'pipe', 'inherit'],
    env: { ...process.env, TARGET: target.http!, SESSIONS: String(SESSIONS), INTERVAL_MS: String(INTERVAL_MS), HOLD_S: String(HOLD_S) },
  })
  const lines = createInterface({ input: child.stdout })
  const events: Array<Record<string, unknown>> = []
  let opened: Sample | undefined
  let peak: Sample = before
  let timer: ReturnType<typeof setInterval> | undefined
  const exited = new Promise<void>((resolve) => { child.once('exit', () => { resolve() }) })
  lines.on('line', (line) => {
    let e: Record<string, unknown>
    try { e = JSON.parse(line) as Record<string, unknown> } catch { return }
    events.push(e)
    print(`  [${name}] ${line}`)
    if (e.event === 'opened') {
      void sample(target).then((s) => { opened = s })
      timer = setInterval(() => {
        void sample(target).then((s) => { if (s.rssMB > peak.rssMB) peak = { ...s } }).catch(() => {})
      }, 5_000)
    }
  })
  await exited
  clearInterval(timer)
  const end = await sample(target)
  const others = Object.fromEntries(await Promise.all(peers.map(async (p) => [p.name, await sample(p)] as const)))
  const done = events.find((e) => e.event === 'done') ?? {}
  const open = events.find((e) => e.event === 'opened') ?? {}
  const n = Number(open.sessions ?? 0)
  const at = opened ?? end
  return {
    phase: name,
    target: target.name,
    sessions: n,
    openFailed: open.failed,
    openMs: open.openMs,
    openErrors: open.errors,
    before,
    opened: at,
    peakDuringHold: peak,
    afterClose: end,
    rssKBPerSession: n === 0 ? NaN : round(((at.rssMB - before.rssMB) * 1024) / n),
    heapKBPerSession: n === 0 ? NaN : round(((at.heapMB - before.heapMB) * 1024) / n),
    ...done,
    peers: others,
  }
}

const load0 = loadavg()
const started = new Date()
const dir = await mkdtemp(join(tmpdir(), 'scale-sessions-'))
const peers: Peer[] = []
try {
  const common = { heartbeatIntervalMs: 1_000, logLevel: 'warn' }
  const calc = (id: string): Record<string, unknown> => ({ name: 'calc', type: 'stdio', command: process.execPath, args: [calcServer], env: { REPLICA_ID: id } })
  // Every generator session is one principal (no tokens: the client's address): the per-principal
  // admission limits are raised with the total, as the mcp-node README says for a load test.
  const http = { maxSessions: SESSIONS + 1_000, maxSessionsPerPrincipal: SESSIONS + 1_000, maxInFlightPerPrincipal: 1_024 }
  const r1 = await startPeer(dir, 'r1', { ...common, name: 'r1', upstreams: [calc('r1')], http }, 60_000)
  const r2 = await startPeer(dir, 'r2', { ...common, name: 'r2', bootstrap: [r1.multiaddrs[0]], upstreams: [calc('r2')], http: { enabled: false } }, 60_000)
  const entry = await startPeer(dir, 'entry', { ...common, name: 'entry', bootstrap: [r1.multiaddrs[0]], http }, 60_000)
  peers.push(r1, r2, entry)
  await until('both replicas of calc in the pools of the entry and r1', async () =>
    ((await replicasOf(entry.http!)) === 2 && (await replicasOf(r1.http!)) === 2 ? true : undefined), 120_000, 500)
  print(`scale-sessions: ${SESSIONS} sessions, a call every ${INTERVAL_MS} ms each, hold ${HOLD_S} s; load average ${load0.map((x) => round(x)).join(' ')}`)
  const results: Array<Record<string, unknown>> = []
  for (const p of PHASES) {
    const target = p === 'entry' ? entry : p === 'direct' ? r1 : undefined
    if (target === undefined) throw new Error(`unknown phase ${JSON.stringify(p)}: entry or direct`)
    results.push(await phase(p, target, peers))
  }
  const load1 = loadavg()
  const machine = { cpus: cpus().length, model: cpus()[0]?.model, memGB: round(totalmem() / 2 ** 30), node: process.version }
  print('')
  print(`| phase | sessions open | open failed | calls/s | p50 ms | p99 ms | errors | RSS before → open MB | RSS KB/session | heap KB/session | fds open (peer) |`)
  print('| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |')
  for (const r of results) {
    const b = r.before as Sample
    const o = r.opened as Sample
    print(`| ${String(r.phase)} (${String(r.target)}) | ${String(r.sessions)} | ${String(r.openFailed)} | ${String(r.callsPerS)} | ${String(r.p50Ms)} | ${String(r.p99Ms)} | ${JSON.stringify(r.errors)} | ${b.rssMB} → ${o.rssMB} | ${String(r.rssKBPerSession)} | ${String(r.heapKBPerSession)} | ${o.fds} |`)
  }
  print(`load average: start ${load0.map((x) => round(x)).join(' ')}, end ${load1.map((x) => round(x)).join(' ')}; ${JSON.stringify(machine)}`)
  mkdirSync('.bench-results', { recursive: true })
  const file = join('.bench-results', `scale-sessions-${SESSIONS}-${started.toISOString().replace(/[:.]/g, '-')}.json`)
  writeFileSync(file, JSON.stringify({ date: started.toISOString(), sessions: SESSIONS, intervalMs: INTERVAL_MS, holdS: HOLD_S, machine, loadAverage: { start: load0, end: load1 }, results }, null, 2))
  print(`results: ${file}`)
  // The peers' own warnings (breakers, ejections, refusals), for reading what limited the run.
  for (const p of peers) writeFileSync(file.replace(/\.json$/, `-${p.name}.log`), p.stderr().slice(-200_000))
} finally {
  await Promise.allSettled(peers.map(async (p) => { await p.kill('SIGTERM') }))
  await rm(dir, { recursive: true, force: true })
}
