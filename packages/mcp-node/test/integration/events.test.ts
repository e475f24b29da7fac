// The mesh event stream end to end, with real peers (createMcpNode, TCP on 127.0.0.1):
// gossip + Merkle-clock DAGs + durable log + SSE + signed webhooks.
import { createServer, type Server } from 'node:http'
import { mkdtemp, rm } from 'node:fs/promises'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { multiaddr } from '@multiformats/multiaddr'
import { cutConnections } from '@p2p-mcp/testkit'
import fc from 'fast-check'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createMcpNode, type McpNode } from '../../src/index.js'
import { verifyWebhook, WEBHOOK_SIGNATURE_HEADER } from '../../src/events/webhooks.js'
import { openSse } from '../events/sse-client.js'

const SECRET = 'a-webhook-secret-of-some-length'
let dir: string
const nodes: McpNode[] = []
let hookServer: Server
const received: Array<{ body: string, verified: boolean }> = []
let failuresLeft = 3
let hookUrl = ''

async function until<T> (what: string, check: () => T | undefined | Promise<T | undefined>, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs
  while (true) {
    const v = await check()
    if (v !== undefined) return v
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
}

async function peer (name: string, config: Parameters<typeof createMcpNode>[0]): Promise<McpNode> {
  const node = createMcpNode({ http: { enabled: false }, dataDir: join(dir, name), controlPlane: { enabled: false }, ...config })
  nodes.push(node)
  await node.start()
  return node
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'p2p-mcp-events-'))
  hookServer = createServer((req, res) => {
    let body = ''
    req.setEncoding('utf8').on('data', (s: string) => { body += s }).on('end', () => {
      if (failuresLeft > 0) {
        failuresLeft--
        res.writeHead(503).end()
        return
      }
      received.push({ body, verified: verifyWebhook(SECRET, req.headers[WEBHOOK_SIGNATURE_HEADER] as string, body) })
      res.writeHead(204).end()
    })
  })
  await new Promise<void>((resolve) => hookServer.listen(0, '127.0.0.1', resolve))
  hookUrl = `http://127.0.0.1:${(hookServer.address() as AddressInfo).port}/hook`
})

afterAll(async () => {
  await Promise.allSettled(nodes.map(async (n) => { await n.stop({ graceMs: 1_000 }) }))
  hookServer.closeAllConnections()
  await new Promise((resolve) => hookServer.close(resolve))
  // A stopped peer's datastore may still be flushing: retry the removal.
  await rm(dir, { recursive: true, force: true, maxRetries: 10, retryDelay: 100 })
})

describe('mesh events', () => {
  it('an event published at one peer reaches an SSE subscriber and a webhook (failing 3 times first) at others, once each, in order, signed', async () => {
    const a = await peer('a', {})
    const b = await peer('b', { bootstrap: a.multiaddrs, events: { http: { enabled: true } } })
    const c = await peer('c', {
      bootstrap: a.multiaddrs,
      events: { webhookAllow: [hookUrl.replace(/\/hook$/, '')], webhookRetryBaseMs: 50, webhooks: [{ id: 'h1', url: hookUrl, topics: ['app.#'], secret: SECRET }] },
    })
    await until('gossip mesh', () => a.libp2p.services.pubsub.getSubscribers('p2p-mcp/events/1').length >= 2 ? true : undefined)
    const sse = await openSse(`${b.events.sseUrl!.href}?topics=app.order.*`)
    const published = []
    for (let i = 0; i < 5; i++) published.push(await a.events.publish({ event_type: 'app.order.created', event_data: { n: i } }))
    const got = await sse.waitFor(5)
    expect(got.map((m) => (JSON.parse(m.data) as { event_id: string }).event_id)).toEqual(published.map((p) => p.event.event_id))
    // Offsets in b's log are strictly increasing: the ids a client resumes from.
    expect(got.map((m) => Number(m.id))).toEqual([...got.map((m) => Number(m.id))].sort((x, y) => x - y))
    sse.close()

    await until('webhook deliveries', () => received.length >= 5 ? true : undefined)
    expect(received.map((r) => (JSON.parse(r.body) as { event: { event_id: string } }).event.event_id)).toEqual(published.map((p) => p.event.event_id))
    expect(received.every((r) => r.verified)).toBe(true)
    // The receiver has the bodies a moment before the sender counts the deliveries.
    await until('webhook deliveries counted', () => (c.events.stats().webhooks.h1?.delivered ?? 0) >= 5 ? true : undefined)
    expect(c.events.stats().webhooks.h1).toMatchObject({ delivered: 5, failedAttempts: 3, deadLettered: 0 })
    // A tampered body does not verify.
    expect(verifyWebhook(SECRET, 't=1,v1=' + '0'.repeat(64), received[0]!.body)).toBe(false)
  })

  it('SSE resumed with Last-Event-ID misses nothing and repeats nothing', async () => {
    const [a, b] = nodes as [McpNode, McpNode]
    const first = await openSse(`${b.events.sseUrl!.href}?topics=app.resume.%23`)
    for (let i = 0; i < 3; i++) await a.events.publish({ event_type: 'app.resume.x', event_data: { i } })
    const before = await first.waitFor(3)
    first.close()
    for (let i = 3; i < 8; i++) await a.events.publish({ event_type: 'app.resume.x', event_data: { i } })
    await until('b logged all', async () => (await b.events.query({ topics: ['app.resume.#'], principal: 'local', from: 'earliest' })).length === 8 ? true : undefined)
    const resumed = await openSse(`${b.events.sseUrl!.href}?topics=app.resume.%23`, { 'last-event-id': before.at(-1)!.id })
    for (let i = 8; i < 10; i++) await a.events.publish({ event_type: 'app.resume.x', event_data: { i } })
    const after = await resumed.waitFor(7)
    resumed.close()
    const seen = [...before, ...after].map((m) => (JSON.parse(m.data) as { event_data: { i: number } }).event_data.i)
    expect(seen).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9])
    expect(resumed.messages.length).toBe(7)
  })

  it('a partitioned peer fetches exactly the events it missed after healing, in causal order', async () => {
    const [a] = nodes as [McpNode]
    const d = await peer('d', {})
    await d.libp2p.dial(multiaddr(a.multiaddrs[0]))
    await until('d subscribed', () => a.libp2p.services.pubsub.getSubscribers('p2p-mcp/events/1').some((p) => p.equals(d.libp2p.peerId)) ? true : undefined)
    await a.events.publish({ event_type: 'app.part.x', event_data: { i: -1 } })
    await until('d got the first', async () => (await d.events.query({ topics: ['app.part.#'], principal: 'local', from: 'earliest' })).length === 1 ? true : undefined)
    for (const other of nodes.filter((n) => n !== d)) cutConnections(d.libp2p, other.libp2p, 'partition')
    await until('d isolated', () => d.libp2p.getConnections().length === 0 ? true : undefined)
    const fetchedBefore = d.events.stats().blocksFetched
    const missed = 12
    for (let i = 0; i < missed; i++) await nodes[i % 2]!.events.publish({ event_type: 'app.part.x', event_data: { i } })
    expect((await d.events.query({ topics: ['app.part.#'], principal: 'local', from: 'earliest' })).length).toBe(1)
    await d.libp2p.dial(multiaddr(a.multiaddrs[0]))
    const got = await until('d healed', async () => {
      const q = await d.events.query({ topics: ['app.part.#'], principal: 'local', from: 'earliest' })
      return q.length === missed + 1 ? q : undefined
    })
    expect(d.events.stats().blocksFetched - fetchedBefore).toBe(missed)
    // Per source, sequence numbers ascend in d's log.
    const bySource = new Map<string, number>()
    for (const e of got) {
      expect(e.event.sequence_number).toBeGreaterThan(bySource.get(e.event.source) ?? 0)
      bySource.set(e.event.source, e.event.sequence_number)
    }
    // In every peer's log, each event comes after every event its clock block links to.
    for (const n of nodes) {
      const all = await n.events.query({ topics: ['#'], principal: 'local', from: 'earliest', limit: 1000 })
      const at = new Map(all.map((e, i) => [e.cid, i]))
      all.forEach((e, i) => { for (const p of e.parents) expect(at.get(p)).toBeLessThan(i) })
    }
  })

  it('tools, rate limit, policy per event type, a refused webhook target, and a restart that keeps the log and the DAG', async () => {
    const config = {
      policy: { default: 'allow' as const, rules: [{ principal: 'local', deny: ['events:secret.*'] }] },
      events: { publishRatePerS: 0.01, publishBurst: 2, webhooks: [{ id: 'evil', url: 'http://169.254.169.254/latest', topics: ['#'], secret: SECRET }] },
    }
    const e = await peer('e', config)
    expect(e.health().reasons.join(' ')).toMatch(/169\.254\.169\.254.*not on events\.webhookAllow/)
    const client = await e.connectClient()
    const ok = await client.callTool({ name: 'mesh__publish_event', arguments: { event_type: 'app.tool.x', event_data: { a: 1 }, correlation_id: 'c-1' } })
    expect(ok.isError).not.toBe(true)
    const reserved = await client.callTool({ name: 'mesh__publish_event', arguments: { event_type: 'mesh.fake' } })
    expect(JSON.stringify(reserved.content)).toMatch(/reserved/)
    const limited = await client.callTool({ name: 'mesh__publish_event', arguments: { event_type: 'app.tool.y' } })
    expect(JSON.stringify(limited.content)).toMatch(/PublishRateLimitedError/)
    await e.events.publish({ event_type: 'secret.x', event_data: { s: 1 } })
    const q = await client.callTool({ name: 'mesh__query_events', arguments: { topics: ['#'], from: 'earliest' } })
    const types = (q.structuredContent as { events: Array<{ event_type: string, correlation_id?: string }> }).events.map((x) => x.event_type)
    expect(types).toContain('app.tool.x')
    expect(types).toContain('mesh.peer.joined')
    expect(types).not.toContain('secret.x')
    const bad = await client.callTool({ name: 'mesh__query_events', arguments: { topics: ['a..b'] } })
    expect(JSON.stringify(bad.content)).toMatch(/InvalidSubscriptionError/)
    await client.close()

    const before = await e.events.query({ topics: ['#'], principal: 'admin', from: 'earliest' })
    const heads = e.events.stats().heads
    await e.stop({ graceMs: 500 })
    const e2 = await peer('e', config)
    const after = await e2.events.query({ topics: ['#'], principal: 'admin', from: 'earliest', limit: 1000 })
    // The log kept every event (plus this peer's "left" and its new "joined"); the DAG was rebuilt from it.
    expect(after.slice(0, before.length).map((d) => d.event.event_id)).toEqual(before.map((d) => d.event.event_id))
    expect(after.map((d) => d.event.event_type).slice(before.length)).toEqual(['mesh.peer.left', 'mesh.peer.joined'])
    expect(e2.events.stats().heads.flat()).not.toEqual(heads.flat())
    const next = await e2.events.publish({ event_type: 'app.tool.z' })
    expect(next.event.sequence_number).toBe(Math.max(...after.filter((d) => d.event.source === e2.peerId).map((d) => d.event.sequence_number)) + 1)
    expect(next.parents.length).toBeGreaterThan(0)
    // Replay from an event id, a time and a vector clock.
    const ids = (ds: Array<{ event: { event_id: string } }>): string[] => ds.map((d) => d.event.event_id)
    const all = await e2.events.query({ topics: ['#'], principal: 'admin', from: 'earliest', limit: 1000 })
    expect(ids(await e2.events.query({ topics: ['#'], principal: 'admin', from: { afterEventId: all[1]!.event.event_id } }))).toEqual(ids(all.slice(2)))
    expect(ids(await e2.events.query({ topics: ['#'], principal: 'admin', from: { time: Date.parse(next.event.timestamp) } }))).toEqual([next.event.event_id])
    expect(ids(await e2.events.query({ topics: ['#'], principal: 'admin', from: { clock: { [e2.peerId]: next.event.sequence_number - 1 } } }))).toEqual([next.event.event_id])
    await expect(e2.events.query({ topics: ['#'], principal: 'admin', from: { afterEventId: 'evt-unknown' } })).rejects.toMatchObject({ name: 'InvalidSubscriptionError' })
  })

  it('property: under random publishes and cuts, every peer ends with the same events, each logged after all it causally follows', async () => {
    const mesh = nodes.slice(0, 4)
    const runs = Number(process.env.FC_NUM_RUNS ?? 3)
    const op = fc.oneof(
      fc.record({ kind: fc.constant('publish' as const), at: fc.nat(3), topic: fc.constantFrom('prop.a', 'prop.b.x', 'other.c') }),
      fc.record({ kind: fc.constant('cut' as const), at: fc.nat(3), to: fc.nat(3) }))
    let round = 0
    await fc.assert(fc.asyncProperty(fc.array(op, { minLength: 5, maxLength: 25 }), async (ops) => {
      round++
      const ids: string[] = []
      for (const o of ops) {
        if (o.kind === 'cut') { if (o.at !== o.to) cutConnections(mesh[o.at]!.libp2p, mesh[o.to]!.libp2p, 'random cut') } else {
          ids.push((await mesh[o.at]!.events.publish({ event_type: o.topic, event_data: { round } })).event.event_id)
        }
      }
      // Heal: everyone dials a, then reconciles with everyone.
      for (const n of mesh.slice(1)) await n.libp2p.dial(multiaddr(mesh[0]!.multiaddrs[0])).catch(() => {})
      const want = new Set(ids)
      await until('convergence', async () => {
        for (const n of mesh) for (const m of mesh) if (n !== m) await n.events.syncWith(m.peerId)
        const logs = await Promise.all(mesh.map(async (n) => n.events.query({ topics: ['prop.#', 'other.#'], principal: 'local', from: 'earliest', limit: 1000, filter: `event_data.round == ${round}` })))
        return logs.every((l) => l.length === want.size && l.every((d) => want.has(d.event.event_id))) ? true : undefined
      }, 60_000)
      for (const n of mesh) {
        const all = await n.events.query({ topics: ['#'], principal: 'local', from: 'earliest', limit: 1000 })
        const at = new Map(all.map((e, i) => [e.cid, i]))
        all.forEach((e, i) => { for (const parent of e.parents) expect(at.get(parent)).toBeLessThan(i) })
      }
    }), { numRuns: runs })
  })
})
