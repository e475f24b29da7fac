/**
 * Issue 18, the process harness: MESH_PEERS (default 30) `p2p-mcp start` peers as child
 * processes on TCP 127.0.0.1 (registry heartbeat MESH_HB_MS, default 500), each watched by an
 * MCP client on its HTTP front door. Measures:
 *   visible   a new peer hosting a new server (examples/calc-server under a new name) starts:
 *             time until its tools are in tools/list at every process peer, counted from its
 *             ready line and from the first peer that listed them
 *   ready     time until the new peer's own tools/list holds every tool of the mesh
 *   removal   the new peer is SIGKILLed: time until its tools are gone from every tools/list
 *   per peer  CPU (ms/s) and RSS of each peer process over a 10 s quiet window
 * Each watcher refreshes tools/list on tools/list_changed and every MESH_POLL_MS (default 2000).
 * Bounded: MESH_DEADLINE_S (default 540). Results: stdout and .bench-results/mesh-processes-<N>-<time>.json.
 *
 *   MESH_PEERS=30 node --import ../testkit/src/ts-hooks.ts bench/mesh-processes.ts   (from packages/mcp-node)
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { mkdirSync, writeFileSync } from 'node:fs'
import { loadavg, tmpdir } from 'node:os'
import { join } from 'node:path'
import { Client } from '@modelcontextprotocol/sdk/client/index.js'
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js'
import { ToolListChangedNotificationSchema } from '@modelcontextprotocol/sdk/types.js'
import { calcServer, startPeer } from '../test/integration/peers.js'
import type { Peer } from '../test/integration/peers.js'

const N = Number(process.env.MESH_PEERS ?? 30)
const HB = Number(process.env.MESH_HB_MS ?? 500)
const TRIALS = Number(process.env.MESH_TRIALS ?? 5)
const POLL_MS = Number(process.env.MESH_POLL_MS ?? 2_000)
const DEADLINE_MS = Number(process.env.MESH_DEADLINE_S ?? 540) * 1000
/** Peers p1..p3 host a server each, so that a joiner has a mesh to catch up with. */
const HOSTS = ['base1', 'base2', 'base3']
const started = Date.now()
const left = (): number => DEADLINE_MS - (Date.now() - started)
const print = (line: string): void => { process.stdout.write(`${line}\n`) }

interface Watched {
  peer: Peer
  client: Client
  /** Tool names of the last tools/list. */
  tools: Set<string>
  /** Called after each refresh. */
  listeners: Set<() => void>
}

async function listAll (client: Client): Promise<Set<string>> {
  const names = new Set<string>()
  let cursor: string | undefined
  do {
    const page = await client.listTools(cursor === undefined ? {} : { cursor })
    for (const t of page.tools) names.add(t.name)
    cursor = page.nextCursor
  } while (cursor !== undefined)
  return names
}

async function watch (peer: Peer): Promise<Watched> {
  const client = new Client({ name: 'scale-watch', version: '1.0.0' })
  await client.connect(new StreamableHTTPClientTransport(new URL(peer.http!)))
  const w: Watched = { peer, client, tools: await listAll(client), listeners: new Set() }
  let running = false
  let again = false
  const refresh = async (): Promise<void> => {
    if (running) { again = true; return }
    running = true
    try {
      do {
        again = false
        w.tools = await listAll(client)
        for (const l of w.listeners) l()
      } while (again)
    } catch { /* the peer may be gone */ } finally { running = false }
  }
  client.setNotificationHandler(ToolListChangedNotificationSchema, () => { void refresh() })
  // a poll as well, in case a notification is lost on a loaded machine (times are then late by up to POLL_MS)
  const timer = setInterval(() => { void refresh() }, POLL_MS)
  timer.unref()
  return w
}

/** Ms (from `t0`) until `check` holds at every watched peer; Infinity where it did not within `timeoutMs`. */
async function untilAll (ws: Watched[], check: (tools: Set<string>) => boolean, t0: number, timeoutMs: number): Promise<number[]> {
  return Promise.all(ws.map(async (w) => new Promise<number>((resolve) => {
    if (check(w.tools)) { resolve(Date.now() - t0); return }
    const timer = setTimeout(() => { w.listeners.delete(on); resolve(Number.POSITIVE_INFINITY) }, timeoutMs)
    const on = (): void => {
      if (!check(w.tools)) return
      clearTimeout(timer)
      w.listeners.delete(on)
      resolve(Date.now() - t0)
    }
    w.listeners.add(on)
  })))
}

/** utime + stime of a process, ms. */
async function cpuMs (pid: number): Promise<number> {
  const stat = (await readFile(`/proc/${pid}/stat`, 'utf8')).split(') ')[1]!.split(' ')
  return (Number(stat[11]) + Number(stat[12])) * 10
}
async function rssMB (pid: number): Promise<number> {
  const m = /VmRSS:\s+(\d+)/.exec(await readFile(`/proc/${pid}/status`, 'utf8'))
  return Number(m?.[1] ?? 0) / 1024
}

function quantile (xs: number[], q: number): number {
  if (xs.some((x) => !Number.isFinite(x))) return Number.POSITIVE_INFINITY
  const s = [...xs].sort((a, b) => a - b)
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil(q * s.length) - 1))] ?? Number.NaN
}

const dir = await mkdtemp(join(tmpdir(), 'p2p-mcp-scale-'))
const peers: Peer[] = []
const watched: Watched[] = []
const load0 = loadavg()
const notes: string[] = []
const base = { listen: ['/ip4/127.0.0.1/tcp/0'], http: { port: 0 }, heartbeatIntervalMs: HB, logLevel: 'warn' }
try {
  const t0 = Date.now()
  peers.push(await startPeer(dir, 'p0', base, 60_000))
  const hosted = (i: number): Record<string, unknown> => i < HOSTS.length ? { upstreams: [{ name: HOSTS[i], type: 'stdio', command: process.execPath, args: [calcServer] }] } : {}
  for (let i = 1; i < N; i += 5) {
    const batch = await Promise.all(Array.from({ length: Math.min(5, N - i) }, async (_, j) => {
      const k = i + j
      // each peer bootstraps from p0 and one random earlier peer: a sparse mesh, not a star
      const other = peers[Math.floor(Math.random() * peers.length)]!
      return startPeer(dir, `p${k}`, { ...base, ...hosted(k), bootstrap: [...new Set([peers[0]!.multiaddrs[0]!, other.multiaddrs[0]!])] }, 120_000)
    }))
    peers.push(...batch)
  }
  const setupMs = Date.now() - t0
  for (const p of peers) watched.push(await watch(p))
  const base0 = await untilAll(watched, (tools) => HOSTS.every((h) => tools.has(`${h}__add`)), Date.now(), 60_000)
  if (base0.some((x) => !Number.isFinite(x))) notes.push('not every peer listed the hosted servers within 60 s of set-up')
  print(`${N} peers up in ${setupMs} ms, watched`)

  // per-peer CPU and memory over a quiet window
  const c0 = await Promise.all(peers.map(async (p) => cpuMs(p.child.pid!)))
  const w0 = Date.now()
  await new Promise((resolve) => setTimeout(resolve, 10_000))
  const c1 = await Promise.all(peers.map(async (p) => cpuMs(p.child.pid!)))
  const windowS = (Date.now() - w0) / 1000
  const cpuPerPeer = c1.map((c, i) => (c - c0[i]!) / windowS)
  const rss = await Promise.all(peers.map(async (p) => rssMB(p.child.pid!)))

  const visibleFromReady: number[] = []
  const visibleFromFirst: number[] = []
  const ready: number[] = []
  const removal: number[] = []
  const everyTool = new Set<string>(HOSTS.map((h) => `${h}__add`))
  for (let k = 0; k < TRIALS; k++) {
    if (left() < 90_000) { notes.push(`stopped after ${k} trials (time limit)`); break }
    const name = `calc${k}`
    const tool = `${name}__add`
    const spawnAt = Date.now()
    const arrivals = untilAll(watched, (tools) => tools.has(tool), spawnAt, 60_000)
    const joiner = await startPeer(dir, `joiner${k}`, {
      ...base, bootstrap: [peers[k % N]!.multiaddrs[0]!, peers[(k * 7 + 3) % N]!.multiaddrs[0]!],
      upstreams: [{ name, type: 'stdio', command: process.execPath, args: [calcServer] }],
    }, 120_000)
    const readyAt = Date.now()
    const jw = await watch(joiner)
    everyTool.add(tool)
    const [joinerReady] = await untilAll([jw], (tools) => [...everyTool].every((t) => tools.has(t)), spawnAt, 60_000)
    const times = await arrivals
    visibleFromReady.push(Math.max(...times) - (readyAt - spawnAt))
    visibleFromFirst.push(Math.max(...times) - Math.min(...times))
    ready.push(joinerReady ?? Number.POSITIVE_INFINITY)
    // removal: SIGKILL the joiner; its tools must leave every list
    const killAt = Date.now()
    const gone = untilAll(watched, (tools) => !tools.has(tool), killAt, 60_000)
    await joiner.kill('SIGKILL')
    everyTool.delete(tool)
    removal.push(Math.max(...await gone))
    await jw.client.close().catch(() => {})
    print(`trial ${k}: visible at all ${N} ${visibleFromReady.at(-1)} ms after ready (${visibleFromFirst.at(-1)} ms first→last), joiner ready ${ready.at(-1)} ms, removal ${removal.at(-1)} ms`)
  }
  const result = {
    peers: N, heartbeatMs: HB, date: new Date().toISOString(), node: process.version,
    loadAverage: { start: load0.map((x) => Math.round(x * 10) / 10), end: loadavg().map((x) => Math.round(x * 10) / 10) },
    setupMs,
    visibleAtEveryPeerFromReadyMs: { p50: quantile(visibleFromReady, 0.5), p99: quantile(visibleFromReady, 0.99), all: visibleFromReady },
    visibleFirstToLastMs: { p50: quantile(visibleFromFirst, 0.5), p99: quantile(visibleFromFirst, 0.99), all: visibleFromFirst },
    joinerReadyMs: ready,
    removalAtEveryPeerMs: removal,
    removalBoundMs: 3 * HB + 1000,
    cpuMsPerSPerPeer: { p50: Math.round(quantile(cpuPerPeer, 0.5)), max: Math.round(Math.max(...cpuPerPeer)) },
    rssMBPerPeer: { p50: Math.round(quantile(rss, 0.5)), max: Math.round(Math.max(...rss)) },
    notes,
  }
  mkdirSync(new URL('../../../.bench-results/', import.meta.url), { recursive: true })
  writeFileSync(new URL(`../../../.bench-results/mesh-processes-${N}-${Date.now()}.json`, import.meta.url), `${JSON.stringify(result, null, 2)}\n`)
  print(JSON.stringify(result))
} finally {
  await Promise.allSettled(watched.map(async (w) => w.client.close()))
  await Promise.allSettled(peers.map(async (p) => p.kill('SIGTERM')))
  await rm(dir, { recursive: true, force: true })
}
