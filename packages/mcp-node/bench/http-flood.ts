/**
 * Issue 17, items 2 and 3: what an abusive HTTP client can hold on one `p2p-mcp start` peer
 * (a child process on 127.0.0.1, default limits, two bearer tokens: the abusive client's and a
 * legitimate client's; FLOOD_TOKENS=0 runs without tokens, where every local client is one principal).
 *
 *   slow-body   FLOOD_CONNECTIONS (default 4000) raw connections each send the headers of an
 *               `initialize` POST and half its body, then, once all are open, the rest at once:
 *               sessions the peer opened (200 with Mcp-Session-Id), refusals by status, and the
 *               peer's RSS (VmRSS, VmHWM from /proc) before and after.
 *   stalled     FLOOD_STALLED (default 2000) connections send half a body and stop: how the peer
 *               answers them, and whether it opens a session for the legitimate client meanwhile.
 *   one-client  the abusive client opens sessions (initialize only, never closed) until refused:
 *               how many, the refusal; then whether the legitimate client still gets a session.
 *   cli         FLOOD_CLI_RUNS (default 20) runs of `p2p-mcp status` and `p2p-mcp tools`:
 *               HTTP sessions still open on the peer afterwards (p2p_mcp_sessions{door="http"}).
 *               Runs before lock-out = maxSessions (or the per-principal quota) / sessions left per run.
 *
 * Bounded: FLOOD_DEADLINE_S (default 300). From packages/mcp-node:
 *   node --import ../testkit/src/ts-hooks.ts bench/http-flood.ts
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { connect, type Socket } from 'node:net'
import { loadavg, tmpdir } from 'node:os'
import { join } from 'node:path'
import { runCli, startPeer } from '../test/integration/peers.js'

const CONNECTIONS = Number(process.env.FLOOD_CONNECTIONS ?? 4000)
const STALLED = Number(process.env.FLOOD_STALLED ?? 2000)
const CLI_RUNS = Number(process.env.FLOOD_CLI_RUNS ?? 20)
const DEADLINE_MS = Number(process.env.FLOOD_DEADLINE_S ?? 300) * 1000
const TOKENS = process.env.FLOOD_TOKENS !== '0'
const ABUSER = 'abuser-token-0123456789'
const LEGIT = 'legit-token-0123456789'
const auth = (token: string): Record<string, string> => (TOKENS ? { authorization: `Bearer ${token}` } : {})
const jsonHeaders = { 'content-type': 'application/json', accept: 'application/json, text/event-stream' }
const started = Date.now()
const print = (line: string): void => { process.stdout.write(`${line}\n`) }

const body = JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'flood', version: '1' } } })

async function memory (pid: number): Promise<{ rssMb: number, peakMb: number }> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8')
  const kb = (key: string): number => Number(new RegExp(`${key}:\\s+(\\d+)`).exec(status)?.[1] ?? 0)
  return { rssMb: Math.round(kb('VmRSS') / 1024), peakMb: Math.round(kb('VmHWM') / 1024) }
}

async function httpSessions (base: URL): Promise<number> {
  const text = await (await fetch(new URL('/metrics', base), { headers: auth(LEGIT) })).text()
  return Number(/p2p_mcp_sessions\{door="http"\} (\d+)/.exec(text)?.[1] ?? 0)
}

interface Pending { socket: Socket, response: Promise<string> }

/** Opens a connection, sends the headers and the first half of an initialize body. */
async function halfSent (host: string, port: number): Promise<Pending> {
  const socket = connect(port, host)
  socket.on('error', () => {})
  await new Promise<void>((resolve, reject) => { socket.once('connect', resolve); socket.once('error', reject) })
  let data = ''
  const response = new Promise<string>((resolve) => {
    socket.setEncoding('utf8').on('data', (s: string) => { data += s })
    socket.once('close', () => { resolve(data) })
  })
  socket.write(`POST /mcp HTTP/1.1\r\nhost: ${host}:${port}\r\ncontent-type: application/json\r\naccept: application/json, text/event-stream\r\ncontent-length: ${Buffer.byteLength(body)}\r\n${TOKENS ? `authorization: Bearer ${ABUSER}\r\n` : ''}connection: close\r\n\r\n${body.slice(0, 40)}`)
  return { socket, response }
}

function statusOf (raw: string): string {
  if (raw === '') return 'closed without answer'
  const status = /^HTTP\/1\.1 (\d+)/.exec(raw)?.[1] ?? '?'
  return /mcp-session-id:/i.test(raw) ? `${status} with session` : status
}

function tally (xs: string[]): Record<string, number> {
  const out: Record<string, number> = {}
  for (const x of xs) out[x] = (out[x] ?? 0) + 1
  return out
}

async function main (): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'http-flood-'))
  const tokens = TOKENS ? [{ token: ABUSER, subject: 'abuser' }, { token: LEGIT, subject: 'legit' }] : []
  const legitSession = async (base: URL): Promise<string> => await fetch(base, { method: 'POST', headers: { ...jsonHeaders, ...auth(LEGIT) }, body, signal: AbortSignal.timeout(30_000) })
    .then(async (r) => `${r.status} ${(await r.text()).slice(0, 300)}`, (err: unknown) => `failed: ${(err as Error).message}`)
  const peer = await startPeer(dir, 'entry', { name: 'entry', logLevel: 'error', http: { port: 0, tokens } })
  const base = new URL(peer.http!)
  const pid = peer.child.pid!
  const out: Record<string, unknown> = { date: new Date().toISOString(), loadavg: loadavg().map((l) => l.toFixed(2)).join(' ') }
  try {
    // slow-body
    const idle = await memory(pid)
    const pendings: Pending[] = []
    for (let i = 0; i < CONNECTIONS && Date.now() - started < DEADLINE_MS / 3; i++) pendings.push(await halfSent(base.hostname, Number(base.port)))
    for (const p of pendings) p.socket.write(body.slice(40))
    const statuses = await Promise.all(pendings.map(async (p) => statusOf(await p.response)))
    for (const p of pendings) p.socket.destroy()
    const afterFlood = await memory(pid)
    out.slowBody = { connections: pendings.length, outcomes: tally(statuses), sessionsOpen: await httpSessions(base), idle, afterFlood }
    print(JSON.stringify({ slowBody: out.slowBody }))

    // stalled: half bodies that never finish; does a legitimate client still get in?
    const stalled: Pending[] = []
    for (let i = 0; i < STALLED && Date.now() - started < DEADLINE_MS / 2; i++) stalled.push(await halfSent(base.hostname, Number(base.port)))
    const probe = await legitSession(base)
    const stalledOutcomes = await Promise.race([
      Promise.all(stalled.map(async (p) => statusOf(await p.response))),
      new Promise<string[]>((resolve) => { setTimeout(() => { resolve(['still open after 60 s']) }, 60_000).unref() }),
    ])
    for (const p of stalled) p.socket.destroy()
    out.stalled = { connections: stalled.length, legitimateClient: probe, outcomes: tally(stalledOutcomes), memory: await memory(pid) }
    print(JSON.stringify({ stalled: out.stalled }))

    // one-client: sessions until refused
    let opened = 0
    let refusal = ''
    for (; opened < 20_000 && Date.now() - started < (DEADLINE_MS * 3) / 4; opened++) {
      const r = await fetch(base, { method: 'POST', headers: { ...jsonHeaders, ...auth(ABUSER) }, body })
      const text = await r.text()
      if (r.status !== 200) { refusal = `${r.status} retry-after=${r.headers.get('retry-after')} ${text}`; break }
    }
    out.oneClient = { sessionsBeforeRefusal: opened, refusal, sessionsOpen: await httpSessions(base), legitimateClient: await legitSession(base), memory: await memory(pid) }
    print(JSON.stringify({ oneClient: out.oneClient }))
  } finally {
    await peer.kill('SIGTERM')
  }

  // cli: a fresh peer, so that the table is empty
  const cliPeer = await startPeer(dir, 'cli', { name: 'cli', logLevel: 'error', http: { port: 0, tokens } })
  try {
    const url = new URL('/mcp', cliPeer.http!).href
    const before = await httpSessions(new URL(cliPeer.http!))
    let failures = 0
    for (let i = 0; i < CLI_RUNS && Date.now() - started < DEADLINE_MS; i++) {
      const r = await runCli([i % 2 === 0 ? 'status' : 'tools', '--url', url, ...(TOKENS ? ['--token', LEGIT] : [])], 60_000)
      if (r.code !== 0) failures++
    }
    const after = await httpSessions(new URL(cliPeer.http!))
    out.cli = { runs: CLI_RUNS, failures, sessionsLeftOpen: after - before, perRun: (after - before) / CLI_RUNS }
    print(JSON.stringify({ cli: out.cli }))
  } finally {
    await cliPeer.kill('SIGTERM')
    await rm(dir, { recursive: true, force: true })
  }
  print(JSON.stringify(out))
}

await main()
