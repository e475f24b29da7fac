// The mesh event stream across real peer processes on 127.0.0.1 (the "must show" of issue 20):
//  1. PEERS `p2p-mcp start` processes (default 10) in one mesh; events published at peer 0
//     with `mesh__publish_event` over its Streamable HTTP front door, PACED events at RATE/s;
//     an SSE subscriber on peer 5 and a webhook receiver fed by peer 7 (signature verified).
//     Latency: the event's timestamp (set by peer 0 when it signs) to its arrival at the SSE
//     client (one machine, one clock).
//  2. SUBSCRIBERS (default 100) SSE clients on peer 3; BURST events published at peer 0 as
//     fast as 16 concurrent MCP calls go; events/s delivered to every subscriber, latency.
//   node --import ../testkit/src/ts-hooks.ts bench/events-mesh.ts
import { createServer } from 'node:http'
import { mkdtemp, rm } from 'node:fs/promises'
import type { AddressInfo } from 'node:net'
import { loadavg, tmpdir } from 'node:os'
import { join } from 'node:path'
import { Client } from '@modelcontextprotocol/sdk/client/index.js'
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js'
import { verifyWebhook, WEBHOOK_SIGNATURE_HEADER } from '../src/events/webhooks.js'
import { openSse, type SseStream } from '../test/events/sse-client.js'
import { startPeer, until, type Peer } from '../test/integration/peers.js'

const PEERS = Number(process.env.PEERS ?? 10)
const PACED = Number(process.env.PACED ?? 300)
const RATE = Number(process.env.RATE ?? 50)
const SUBSCRIBERS = Number(process.env.SUBSCRIBERS ?? 100)
const BURST = Number(process.env.BURST ?? 1000)
const SECRET = 'bench-webhook-secret-0123456789'

const pct = (xs: number[], p: number): number => { const s = [...xs].sort((a, b) => a - b); return s[Math.min(s.length - 1, Math.floor(p / 100 * s.length))] ?? NaN }
const fmt = (xs: number[]): string => `p50 ${pct(xs, 50).toFixed(1)} ms, p90 ${pct(xs, 90).toFixed(1)} ms, p99 ${pct(xs, 99).toFixed(1)} ms, max ${Math.max(...xs).toFixed(1)} ms (n=${xs.length})`

const dir = await mkdtemp(join(tmpdir(), 'events-mesh-'))
const hooks: Array<{ id: string, ok: boolean }> = []
const hookServer = createServer((req, res) => {
  let body = ''
  req.setEncoding('utf8').on('data', (s: string) => { body += s }).on('end', () => {
    hooks.push({ id: (JSON.parse(body) as { event: { event_id: string } }).event.event_id, ok: verifyWebhook(SECRET, req.headers[WEBHOOK_SIGNATURE_HEADER] as string, body) })
    res.writeHead(204).end()
  })
})
await new Promise<void>((resolve) => hookServer.listen(0, '127.0.0.1', resolve))
const hookOrigin = `http://127.0.0.1:${(hookServer.address() as AddressInfo).port}`

const common = { logLevel: 'warn', controlPlane: { enabled: false }, heartbeatIntervalMs: 2_000 }
const peers: Peer[] = []
try {
  const events = { publishRatePerS: 100_000, publishBurst: 100_000, http: { enabled: true } }
  peers.push(await startPeer(dir, 'p0', { ...common, dataDir: join(dir, 'd0'), events }))
  const rest = await Promise.all(Array.from({ length: PEERS - 1 }, async (_, i) => startPeer(dir, `p${i + 1}`, {
    ...common, dataDir: join(dir, `d${i + 1}`), bootstrap: [peers[0]!.multiaddrs[0]],
    events: i + 1 === 7
      ? { ...events, webhookAllow: [hookOrigin], webhooks: [{ id: 'bench', url: `${hookOrigin}/hook`, topics: ['bench.#'], secret: SECRET }] }
      : events,
  }, 60_000)))
  peers.push(...rest)
  const sseOf = (i: number): string => (peers[i] as unknown as { events: string }).events
  const client = new Client({ name: 'events-bench', version: '1' })
  await client.connect(new StreamableHTTPClientTransport(new URL(peers[0]!.http!)))
  const publish = async (type: string, i: number): Promise<void> => {
    const r = await client.callTool({ name: 'mesh__publish_event', arguments: { event_type: type, event_data: { i } } })
    if (r.isError === true) throw new Error(JSON.stringify(r.content))
  }
  // The mesh is formed when a probe published at peer 0 reaches the last peer's SSE stream.
  const probe = await openSse(`${sseOf(PEERS - 1)}?topics=probe.%23`)
  await until('the mesh to carry events', async () => { await publish('probe.x', 0); return probe.messages.length > 0 ? true : undefined }, 60_000, 500)
  probe.close()

  // 1. paced: SSE at peer 5, webhook at peer 7
  const sse = await openSse(`${sseOf(5 % PEERS)}?topics=bench.%23`)
  const latency: number[] = []
  sse.onMessage = (m) => { latency.push(Date.now() - Date.parse((JSON.parse(m.data) as { timestamp: string }).timestamp)) }
  const start = Date.now()
  for (let i = 0; i < PACED; i++) {
    const due = start + i * 1000 / RATE
    if (due > Date.now()) await new Promise((resolve) => setTimeout(resolve, due - Date.now()))
    await publish('bench.paced', i)
  }
  await sse.waitFor(PACED, 60_000)
  sse.close()
  const ids = sse.messages.map((m) => (JSON.parse(m.data) as { event_id: string }).event_id)
  await until('webhook deliveries', () => hooks.length >= PACED ? true : undefined, 60_000)
  // At-least-once: a POST that timed out may arrive twice; a receiver drops repeats by event id.
  const firstSeen = [...new Set(hooks.map((h) => h.id))]
  const inOrder = firstSeen.length === ids.length && firstSeen.every((id, i) => id === ids[i])
  console.log(`peers ${PEERS}, load average ${loadavg().map((x) => x.toFixed(2)).join(' ')}`)
  console.log(`paced ${PACED} events at ${RATE}/s, published at peer 0, SSE at peer ${5 % PEERS}: ${fmt(latency)}; distinct ${new Set(ids).size}`)
  const stats = async (i: number): Promise<Record<string, unknown>> => {
    const c = new Client({ name: 'events-bench', version: '1' })
    await c.connect(new StreamableHTTPClientTransport(new URL(peers[i]!.http!)))
    const r = await c.readResource({ uri: 'mesh://events' })
    await c.close()
    const { heads: _h, webhooks: _w, ...rest } = JSON.parse((r.contents[0] as { text: string }).text) as Record<string, unknown>
    return rest
  }
  console.log(`peer 5 events: ${JSON.stringify(await stats(5 % PEERS))}`)
  console.log(`webhook at peer 7: ${hooks.length} deliveries (${firstSeen.length} distinct), ${hooks.filter((h) => h.ok).length} signatures verified, same order as SSE: ${inOrder}`)

  // 2. burst to SUBSCRIBERS SSE clients on peer 3
  const subs: SseStream[] = []
  for (let i = 0; i < SUBSCRIBERS; i++) {
    // A loaded machine may reset a connection being opened: retry it.
    for (let attempt = 1; ; attempt++) {
      try {
        subs.push(await openSse(`${sseOf(3 % PEERS)}?topics=burst.%23`))
        break
      } catch (err) {
        if (attempt === 5) throw err
      }
    }
  }
  const burstLatency: number[] = []
  subs[0]!.onMessage = (m) => { burstLatency.push(Date.now() - Date.parse((JSON.parse(m.data) as { timestamp: string }).timestamp)) }
  const t0 = performance.now()
  let next = 0
  await Promise.all(Array.from({ length: 16 }, async () => { while (next < BURST) await publish('burst.x', next++) }))
  const published = performance.now()
  await Promise.all(subs.map(async (s) => s.waitFor(BURST, 120_000)))
  const delivered = performance.now()
  for (const s of subs) s.close()
  console.log(`burst ${BURST} events at peer 0 in ${(published - t0).toFixed(0)} ms (${(BURST / (published - t0) * 1000).toFixed(0)} events/s published); ` +
    `all ${SUBSCRIBERS} subscribers at peer 3 had all of them after ${(delivered - t0).toFixed(0)} ms: ${(BURST / (delivered - t0) * 1000).toFixed(0)} events/s per subscriber, ` +
    `${(BURST * SUBSCRIBERS / (delivered - t0) * 1000).toFixed(0)} deliveries/s at peer 3; latency (subscriber 0) ${fmt(burstLatency)}`)
  console.log(`load average after: ${loadavg().map((x) => x.toFixed(2)).join(' ')}`)
  await client.close()
} finally {
  await Promise.allSettled(peers.map(async (p) => { await p.kill() }))
  hookServer.closeAllConnections()
  hookServer.close()
  await rm(dir, { recursive: true, force: true })
}
