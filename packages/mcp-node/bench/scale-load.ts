/**
 * Issue 17, the scale benchmark's load generator (its own process; `scale-sessions.ts` starts
 * it). A lean raw-HTTP Streamable HTTP client, not the SDK `Client`: 10,000 SDK clients with
 * their transports do not fit in one generator process beside the peers on a 2-core machine.
 * Per session it sends what a 2025-11-25 client sends: `initialize` (keeps `Mcp-Session-Id`),
 * `notifications/initialized`, then a `tools/call` every INTERVAL_MS (first one at a random
 * offset, so calls spread evenly), and `DELETE` at the end. It opens no standing GET stream
 * (optional in the spec; the SDK client opens one, which would add one socket per session).
 * Answers may come as JSON or as an SSE stream; both are parsed.
 *
 * Env: TARGET (the /mcp URL), SESSIONS, INTERVAL_MS, HOLD_S (after the last session opened),
 * OPEN_CONCURRENCY, MAX_SOCKETS, TOOL, ARGS (JSON).
 * Prints JSON lines on stdout: {event:'opened',...} once all are open, {event:'done',...} at the end.
 */
import http from 'node:http'

const TARGET = new URL(process.env.TARGET ?? 'http://127.0.0.1:3000/mcp')
const SESSIONS = Number(process.env.SESSIONS ?? 10_000)
const INTERVAL_MS = Number(process.env.INTERVAL_MS ?? 10_000)
const HOLD_S = Number(process.env.HOLD_S ?? 60)
const OPEN_CONCURRENCY = Number(process.env.OPEN_CONCURRENCY ?? 64)
const MAX_SOCKETS = Number(process.env.MAX_SOCKETS ?? 256)
const TOOL = process.env.TOOL ?? 'calc__add'
const ARGS = JSON.parse(process.env.ARGS ?? '{"a":1,"b":2}') as Record<string, unknown>
const REQUEST_TIMEOUT_MS = 60_000

// A free socket is dropped after 4 s, before the server's keep-alive timeout (5 s) closes it
// under a request (a reset that would be the generator's own doing, not the peer's).
const agent = new http.Agent({ keepAlive: true, maxSockets: MAX_SOCKETS, timeout: 4_000 })
const print = (o: unknown): void => { process.stdout.write(`${JSON.stringify(o)}\n`) }

interface Answer { status: number, sessionId: string | undefined, body: unknown }

/** One HTTP request to the front door; resolves with the JSON-RPC answer (from JSON or SSE) or the status. */
function request (method: 'POST' | 'DELETE', sessionId: string | undefined, message?: unknown): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const body = message === undefined ? undefined : JSON.stringify(message)
    const req = http.request(TARGET, {
      method,
      agent,
      timeout: REQUEST_TIMEOUT_MS,
      headers: {
        accept: 'application/json, text/event-stream',
        'mcp-protocol-version': '2025-11-25',
        ...(body === undefined ? {} : { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) }),
        ...(sessionId === undefined ? {} : { 'mcp-session-id': sessionId }),
      },
    }, (res) => {
      let text = ''
      res.setEncoding('utf8')
      res.on('data', (chunk: string) => { text += chunk })
      res.on('end', () => {
        const sid = res.headers['mcp-session-id']
        let parsed: unknown
        const type = res.headers['content-type'] ?? ''
        try {
          if (type.includes('text/event-stream')) {
            for (const line of text.split('\n')) if (line.startsWith('data:')) parsed = JSON.parse(line.slice(5))
          } else if (text !== '') parsed = JSON.parse(text)
        } catch { parsed = text }
        resolve({ status: res.statusCode ?? 0, sessionId: typeof sid === 'string' ? sid : undefined, body: parsed })
      })
      res.on('error', reject)
    })
    req.on('timeout', () => { req.destroy(new Error(`no answer within ${REQUEST_TIMEOUT_MS} ms`)) })
    req.on('error', reject)
    req.end(body)
  })
}

const errors = new Map<string, number>()
const fail = (kind: string): void => { errors.set(kind, (errors.get(kind) ?? 0) + 1) }
const latencies: number[] = []
let calls = 0
let measuring = false
let stopping = false
const sessions: string[] = []
const timers = new Set<ReturnType<typeof setTimeout>>()

async function open (i: number): Promise<string | undefined> {
  try {
    const init = await request('POST', undefined, {
      jsonrpc: '2.0', id: 0, method: 'initialize',
      params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: `scale-${i}`, version: '1.0.0' } },
    })
    if (init.status !== 200 || init.sessionId === undefined) { fail(`initialize HTTP ${init.status}`); return undefined }
    const ack = await request('POST', init.sessionId, { jsonrpc: '2.0', method: 'notifications/initialized' })
    if (ack.status !== 202 && ack.status !== 200) { fail(`initialized HTTP ${ack.status}`); return undefined }
    return init.sessionId
  } catch (err) {
    fail(`initialize: ${(err as Error).message.slice(0, 80)}`)
    return undefined
  }
}

function schedule (sessionId: string, n: number, delay: number): void {
  const timer = setTimeout(() => {
    timers.delete(timer)
    if (stopping) return
    void call(sessionId, n).finally(() => { schedule(sessionId, n + 1, INTERVAL_MS) })
  }, delay)
  timers.add(timer)
}

/** Calls while sessions are still being opened: counted apart from the hold's. */
const ramp = { calls: 0, ok: 0, errors: new Map<string, number>() }

async function call (sessionId: string, n: number): Promise<void> {
  const counted = measuring
  const started = performance.now()
  let error: string | undefined
  try {
    const a = await request('POST', sessionId, { jsonrpc: '2.0', id: n + 1, method: 'tools/call', params: { name: TOOL, arguments: ARGS } })
    const body = a.body as { result?: { isError?: boolean }, error?: { code: number, message?: string } } | undefined
    if (a.status !== 200) error = `tools/call HTTP ${a.status}`
    else if (body?.error !== undefined) error = `tools/call error ${body.error.code}: ${(body.error.message ?? '').slice(0, 100)}`
    else if (body?.result?.isError === true) error = 'tools/call isError'
  } catch (err) {
    error = `tools/call: ${(err as Error).message.slice(0, 80)}`
  }
  if (!counted) {
    ramp.calls++
    if (error === undefined) ramp.ok++
    else ramp.errors.set(error, (ramp.errors.get(error) ?? 0) + 1)
    return
  }
  calls++
  if (error === undefined) latencies.push(performance.now() - started)
  else fail(error)
}

function quantile (sorted: number[], q: number): number {
  if (sorted.length === 0) return NaN
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!
}

const t0 = Date.now()
let next = 0
await Promise.all(Array.from({ length: OPEN_CONCURRENCY }, async () => {
  while (next < SESSIONS) {
    const i = next++
    const sid = await open(i)
    if (sid === undefined) continue
    sessions.push(sid)
    schedule(sid, 0, Math.random() * INTERVAL_MS)
  }
}))
const openMs = Date.now() - t0
print({
  event: 'opened', sessions: sessions.length, failed: SESSIONS - sessions.length, openMs, errors: Object.fromEntries(errors),
  rampCalls: ramp.calls, rampOk: ramp.ok, rampErrors: Object.fromEntries(ramp.errors),
})
errors.clear()
measuring = true
await new Promise((resolve) => setTimeout(resolve, HOLD_S * 1000))
measuring = false
stopping = true
for (const t of timers) clearTimeout(t)
latencies.sort((x, y) => x - y)
const result = {
  event: 'done',
  sessions: sessions.length,
  holdS: HOLD_S,
  calls,
  ok: latencies.length,
  callsPerS: Math.round(calls / HOLD_S),
  p50Ms: Math.round(quantile(latencies, 0.5) * 10) / 10,
  p99Ms: Math.round(quantile(latencies, 0.99) * 10) / 10,
  maxMs: Math.round((latencies.at(-1) ?? NaN) * 10) / 10,
  errors: Object.fromEntries(errors),
}
print(result)
// Close every session (bounded concurrency), so the peer is left as it was.
let k = 0
await Promise.all(Array.from({ length: OPEN_CONCURRENCY }, async () => {
  while (k < sessions.length) {
    const sid = sessions[k++]!
    await request('DELETE', sid).catch(() => {})
  }
}))
print({ event: 'closed', sessions: sessions.length })
agent.destroy()
