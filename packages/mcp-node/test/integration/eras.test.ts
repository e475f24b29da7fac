// End to end, both MCP eras: `p2p-mcp start` processes on 127.0.0.1. A hosts nothing and serves
// HTTP; B1 hosts calc (SDK 1.x, stdio: a 2025 upstream) and reference (SDK v2 over HTTP: a
// 2026-07-28 upstream, examples/reference-server); B2 hosts a second reference replica.
// Clients: SDK 1.x (2025 sessions) and SDK v2 pinned to 2026-07-28, both on A.
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Client as ModernClient, StreamableHTTPClientTransport as ModernHttp } from '@modelcontextprotocol/client'
import { Client } from '@modelcontextprotocol/sdk/client/index.js'
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js'
import { ElicitRequestSchema } from '@modelcontextprotocol/sdk/types.js'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { calcServer, startPeer, startReference, until, type Peer } from './peers.js'

const MODERN = '2026-07-28'
let dir: string
let a: Peer
let b1: Peer
let b2: Peer
const references: Array<{ url: URL, close: () => Promise<void> }> = []
const closers: Array<() => Promise<void>> = []
const common = { heartbeatIntervalMs: 500, logLevel: 'warn' }

const text = (r: unknown): string => ((r as { content?: Array<{ text?: string }> }).content ?? []).map((c) => c.text ?? '').join('')

async function legacyClient (path: string, answer?: string): Promise<Client> {
  const client = new Client({ name: 'e2e-2025', version: '1.0.0' }, { capabilities: answer === undefined ? {} : { elicitation: {} } })
  if (answer !== undefined) client.setRequestHandler(ElicitRequestSchema, () => ({ action: 'accept', content: { answer, name: answer } }))
  await client.connect(new StreamableHTTPClientTransport(new URL(path, a.http!)))
  closers.push(async () => { await client.close() })
  return client
}

async function modernClient (path: string, answer?: string): Promise<ModernClient> {
  const client = new ModernClient({ name: 'e2e-2026', version: '1.0.0' }, {
    versionNegotiation: { mode: { pin: MODERN } },
    capabilities: answer === undefined ? {} : { elicitation: {} },
  })
  if (answer !== undefined) client.setRequestHandler('elicitation/create', () => ({ action: 'accept', content: { answer, name: answer } }))
  await client.connect(new ModernHttp(new URL(path, a.http!)))
  closers.push(async () => { await client.close() })
  return client
}

/** One 2026-07-28 request as a client writes it by hand, for the rounds of an interactive call. */
async function modernCall (name: string, extra: Record<string, unknown> = {}): Promise<{ replica: string | null, body: { result?: Record<string, unknown>, error?: { message: string } } }> {
  const res = await fetch(new URL('/servers/reference/mcp', a.http!), {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream', 'mcp-protocol-version': MODERN, 'mcp-method': 'tools/call', 'mcp-name': name },
    body: JSON.stringify({
      jsonrpc: '2.0', id: 1, method: 'tools/call',
      params: {
        name, arguments: {}, ...extra,
        _meta: { 'io.modelcontextprotocol/protocolVersion': MODERN, 'io.modelcontextprotocol/clientInfo': { name: 'raw', version: '1' }, 'io.modelcontextprotocol/clientCapabilities': { elicitation: {} } },
      },
    }),
  })
  const raw = await res.text()
  const json = res.headers.get('content-type')?.includes('text/event-stream') === true ? raw.split('\n').filter((l) => l.startsWith('data:')).map((l) => l.slice(5)).at(-1)! : raw
  return { replica: res.headers.get('p2p-mcp-replica'), body: JSON.parse(json) as { result?: Record<string, unknown> } }
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'mcp-node-eras-'))
  references.push(...await Promise.all([startReference(), startReference()]))
  a = await startPeer(dir, 'A', { ...common, name: 'A' })
  ;[b1, b2] = await Promise.all([
    startPeer(dir, 'B1', {
      ...common, name: 'B1', bootstrap: [a.multiaddrs[0]], http: { enabled: false },
      upstreams: [{ name: 'calc', type: 'stdio', command: process.execPath, args: [calcServer] }, { name: 'reference', type: 'http', url: references[0]!.url.href }],
    }),
    startPeer(dir, 'B2', { ...common, name: 'B2', bootstrap: [a.multiaddrs[0]], http: { enabled: false }, upstreams: [{ name: 'reference', type: 'http', url: references[1]!.url.href }] }),
  ])
  const health = new URL('/mcp', a.http!)
  await until('calc and both reference replicas on A', async () => {
    const client = new Client({ name: 'probe', version: '1.0.0' })
    await client.connect(new StreamableHTTPClientTransport(health))
    try {
      const status = JSON.stringify(await client.callTool({ name: 'mesh__status', arguments: {} }))
      const names = (await client.listTools()).tools.map((t) => t.name)
      return names.includes('calc__ask_user') && status.includes(b1.peerId) && status.includes(b2.peerId) && (status.match(/reference/g)?.length ?? 0) > 0 ? true : undefined
    } finally {
      await client.close()
    }
  }, 60_000, 250)
}, 120_000)

afterAll(async () => {
  await Promise.allSettled(closers.map(async (c) => { await c() }))
  await Promise.allSettled([a, b1, b2].filter((p) => p !== undefined).map(async (p) => { await p.kill('SIGTERM') }))
  await Promise.allSettled(references.map(async (r) => { await r.close() }))
  await rm(dir, { recursive: true, force: true })
})

describe('both MCP eras through the mesh', () => {
  it('serves a 2026-07-28 client and a 2025 client on one peer, calling the same tools at once', async () => {
    const [legacy, modern] = await Promise.all([legacyClient('/servers/calc/mcp'), modernClient('/servers/calc/mcp')])
    expect(modern.getNegotiatedProtocolVersion()).toBe(MODERN)
    const calls = Array.from({ length: 8 }, (_, i) => i)
    const [old, now] = await Promise.all([
      Promise.all(calls.map(async (i) => text(await legacy.callTool({ name: 'add', arguments: { a: i, b: 1 } })))),
      Promise.all(calls.map(async (i) => text(await modern.callTool({ name: 'add', arguments: { a: i, b: 2 } })))),
    ])
    expect(old).toEqual(calls.map((i) => String(i + 1)))
    expect(now).toEqual(calls.map((i) => String(i + 2)))
    // the whole mesh speaks both too: a v2 client negotiating on its own gets the modern era
    const auto = new ModernClient({ name: 'e2e-auto', version: '1.0.0' }, { versionNegotiation: { mode: 'auto' } })
    await auto.connect(new ModernHttp(new URL('/mcp', a.http!)))
    closers.push(async () => { await auto.close() })
    expect(auto.getNegotiatedProtocolVersion()).toBe(MODERN)
    expect((await auto.listTools()).tools.map((t) => t.name)).toEqual(expect.arrayContaining(['calc__add', 'reference__test_simple_text']))
  })

  it('relays elicitation across the hop in all four era pairings', async () => {
    // 2025 client, 2025 upstream: the upstream's elicitation request reaches the client
    expect(text(await (await legacyClient('/servers/calc/mcp', 'old-old')).callTool({ name: 'ask_user', arguments: { question: 'q?' } }))).toBe('user answered: old-old')
    // 2025 client, 2026 upstream: the upstream's input_required becomes an elicitation request (SDK shim behind B1/B2's session)
    expect(text(await (await legacyClient('/servers/reference/mcp', 'old-new')).callTool({ name: 'test_input_required_result_elicitation', arguments: {} }))).toBe('Hello, old-new!')
    // 2026 client, 2025 upstream: the upstream's elicitation request becomes an input_required round at A
    expect(text(await (await modernClient('/servers/calc/mcp', 'new-old')).callTool({ name: 'ask_user', arguments: { question: 'q?' } }))).toBe('user answered: new-old')
    // 2026 client, 2026 upstream: relayed as it is, the upstream's own input_required reaches the client
    expect(text(await (await modernClient('/servers/reference/mcp', 'new-new')).callTool({ name: 'test_input_required_result_elicitation', arguments: {} }))).toBe('Hello, new-new!')
  })

  it('resumes a 2025 SSE stream through the mesh: no event lost after a disconnect', async () => {
    const url = new URL('/servers/calc/mcp', a.http!)
    const headers = { 'content-type': 'application/json', accept: 'application/json, text/event-stream' }
    const init = await fetch(url, { method: 'POST', headers, body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'raw', version: '1' } } }) })
    await init.text()
    const session = { ...headers, 'mcp-session-id': init.headers.get('mcp-session-id')!, 'mcp-protocol-version': '2025-11-25' }
    await (await fetch(url, { method: 'POST', headers: session, body: JSON.stringify({ jsonrpc: '2.0', method: 'notifications/initialized' }) })).text()
    const controller = new AbortController()
    const first = await fetch(url, { method: 'POST', headers: session, signal: controller.signal, body: JSON.stringify({ jsonrpc: '2.0', id: 2, method: 'tools/call', params: { name: 'slow_count', arguments: { n: 6, delayMs: 150 }, _meta: { progressToken: 'p' } } }) })
    const seen: Array<{ id?: string, data?: string }> = []
    const reader = (first.body as ReadableStream<Uint8Array>).getReader()
    let buffer = ''
    while (seen.filter((e) => e.data !== undefined).length < 2) {
      const { value } = await reader.read()
      buffer += new TextDecoder().decode(value)
      let end: number
      while ((end = buffer.indexOf('\n\n')) >= 0) {
        const block = buffer.slice(0, end)
        buffer = buffer.slice(end + 2)
        const e: { id?: string, data?: string } = {}
        for (const l of block.split('\n')) {
          if (l.startsWith('id:')) e.id = l.slice(3).trim()
          if (l.startsWith('data:') && l.slice(5).trim() !== '') e.data = l.slice(5).trim()
        }
        if (e.id !== undefined) seen.push(e)
      }
    }
    controller.abort()
    let resumed: Response | undefined
    for (let attempt = 0; attempt < 40 && resumed?.status !== 200; attempt++) {
      if (resumed !== undefined) { await resumed.text(); await new Promise((resolve) => setTimeout(resolve, 250)) }
      resumed = await fetch(url, { method: 'GET', headers: { ...session, accept: 'text/event-stream', 'last-event-id': seen.at(-1)!.id! } })
    }
    const rest = await resumed!.text()
    const messages = [...seen.map((e) => e.data), ...rest.split('\n').filter((l) => l.startsWith('data:') && l.slice(5).trim() !== '').map((l) => l.slice(5))]
      .filter((d): d is string => d !== undefined).map((d) => JSON.parse(d) as { method?: string, params?: { progress: number }, result?: unknown })
    expect(messages.filter((m) => m.method === 'notifications/progress').map((m) => m.params?.progress)).toEqual([1, 2, 3, 4, 5, 6])
    expect(text(messages.at(-1)?.result)).toBe('counted to 6')
  })

  it('completes an interactive 2026-07-28 call on another replica after the one that served its first round is SIGKILLed', async () => {
    const round1 = await modernCall('test_input_required_result_multi_round')
    expect(round1.body.result?.resultType).toBe('input_required')
    const served = round1.replica
    expect([b1.peerId, b2.peerId]).toContain(served)
    await (served === b1.peerId ? b1 : b2).kill('SIGKILL')
    const survivor = served === b1.peerId ? b2.peerId : b1.peerId
    const round2 = await modernCall('test_input_required_result_multi_round', {
      inputResponses: { step1: { action: 'accept', content: { name: 'Ada' } } }, requestState: round1.body.result?.requestState,
    })
    expect(round2.replica).toBe(survivor)
    expect(round2.body.result?.resultType).toBe('input_required')
    const round3 = await modernCall('test_input_required_result_multi_round', {
      inputResponses: { step2: { action: 'accept', content: { color: 'blue' } } }, requestState: round2.body.result?.requestState,
    })
    expect(text(round3.body.result)).toBe('Multi-round complete for Ada who likes blue')
  })
})
