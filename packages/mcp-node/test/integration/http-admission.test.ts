// Issue 17, items 2 and 3 and the Also line, through a real node's HTTP front door: per-principal
// quotas of sessions, requests in flight (2025 sessions and stateless 2026-07-28 requests alike)
// and streams (subscriptions/listen) from the config; 503 with Retry-After naming the limit; the
// CLI ends its sessions on every exit path (runs as child processes); /healthz without a token
// says only the status when tokens are configured.
import { spawn } from 'node:child_process'
import { Client as ModernClient, StreamableHTTPClientTransport as ModernHttp } from '@modelcontextprotocol/client'
import { Client } from '@modelcontextprotocol/sdk/client/index.js'
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js'
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createMcpNode, type McpNode } from '../../src/index.js'
import { cli, hooks, runCli, until } from './peers.js'

const ALICE = 'alice-token-0123456789'
const BOB = 'bob-token-0123456789ab'
const MODERN = '2026-07-28'
const headers = { 'content-type': 'application/json', accept: 'application/json, text/event-stream' }
const meta = { 'io.modelcontextprotocol/protocolVersion': MODERN, 'io.modelcontextprotocol/clientInfo': { name: 'raw', version: '1' }, 'io.modelcontextprotocol/clientCapabilities': {} }

let node: McpNode
let url: URL
const closers: Array<() => Promise<void>> = []
/** `hold` waits until the gate opens; `inside` counts calls that entered it. */
let open: () => void = () => {}
let gate = new Promise<void>((resolve) => { open = resolve })
let inside = 0
const entered: Array<{ n: number, resolve: () => void }> = []
const release = (): void => { open(); gate = new Promise<void>((resolve) => { open = resolve }) }
const waitInside = async (n: number): Promise<void> => { if (inside < n) await new Promise<void>((resolve) => { entered.push({ n, resolve }) }) }

beforeAll(async () => {
  node = createMcpNode({
    http: { tokens: [{ token: ALICE, subject: 'alice' }, { token: BOB, subject: 'bob' }], maxSessionsPerPrincipal: 2, maxInFlightPerPrincipal: 2, maxStreamsPerPrincipal: 1 },
    heartbeatIntervalMs: 500,
  })
  node.registerTool('hold', {}, async (): Promise<CallToolResult> => {
    inside++
    for (const e of entered.filter((e) => inside >= e.n)) e.resolve()
    await gate
    return { content: [{ type: 'text', text: 'released' }] }
  })
  node.registerTool('echo', {}, (): Promise<CallToolResult> => Promise.resolve({ content: [{ type: 'text', text: 'echo' }] }))
  await node.start()
  await node.waitForTool('local__hold', { timeoutMs: 20_000 })
  url = node.httpUrl!
}, 60_000)

afterAll(async () => {
  release()
  await Promise.allSettled(closers.map(async (c) => { await c() }))
  await node?.stop({ graceMs: 500 })
})

async function legacy (token: string): Promise<{ client: Client, transport: StreamableHTTPClientTransport }> {
  const transport = new StreamableHTTPClientTransport(url, { requestInit: { headers: { authorization: `Bearer ${token}` } } })
  const client = new Client({ name: 'admission-2025', version: '1.0.0' })
  await client.connect(transport)
  closers.push(async () => { await transport.terminateSession().catch(() => {}); await client.close() })
  return { client, transport }
}

async function modern (token: string): Promise<ModernClient> {
  const client = new ModernClient({ name: 'admission-2026', version: '1.0.0' }, { versionNegotiation: { mode: { pin: MODERN } } })
  await client.connect(new ModernHttp(url, { requestInit: { headers: { authorization: `Bearer ${token}` } } }))
  closers.push(async () => { await client.close() })
  return client
}

/** Whether `token`'s principal can open `n` sessions at once now (they are ended again at once). */
async function canOpen (token: string, n = 1): Promise<boolean> {
  const opened: string[] = []
  for (let i = 0; i < n; i++) {
    const res = await fetch(url, {
      method: 'POST', headers: { ...headers, authorization: `Bearer ${token}` },
      body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'probe', version: '1' } } }),
    })
    await res.text()
    const sid = res.headers.get('mcp-session-id')
    if (sid !== null) opened.push(sid)
  }
  for (const sid of opened) await fetch(url, { method: 'DELETE', headers: { authorization: `Bearer ${token}`, 'mcp-session-id': sid, 'mcp-protocol-version': '2025-11-25' } })
  return opened.length === n
}

describe('the HTTP front door admits by principal', () => {
  it('/healthz without a token says only the status; with a token, the details', async () => {
    const healthz = new URL('/healthz', url)
    const anonymous = await (await fetch(healthz)).json() as Record<string, unknown>
    expect(Object.keys(anonymous)).toEqual(['status'])
    expect(Object.keys(await (await fetch(healthz, { headers: { authorization: 'Bearer wrong-token-0000000000' } })).json() as object)).toEqual(['status'])
    const detailed = await (await fetch(healthz, { headers: { authorization: `Bearer ${ALICE}` } })).json() as Record<string, unknown>
    expect(detailed).toMatchObject({ status: anonymous.status, peerId: node.peerId })
    expect(detailed).toHaveProperty('upstreams')
    expect(detailed).toHaveProperty('bootstrap')
  })

  it('quotas sessions per principal from the config: 503, Retry-After, the limit named; another principal is not affected', async () => {
    const sessions = [await legacy(ALICE), await legacy(ALICE)]
    const refused = await fetch(url, {
      method: 'POST', headers: { ...headers, authorization: `Bearer ${ALICE}` },
      body: JSON.stringify({ jsonrpc: '2.0', id: 7, method: 'initialize', params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'third', version: '1' } } }),
    })
    expect(refused.status).toBe(503)
    expect(Number(refused.headers.get('retry-after'))).toBeGreaterThanOrEqual(1)
    const body = await refused.json() as { id: unknown, error: { message: string } }
    expect(body.id).toBe(7)
    expect(body.error.message).toMatch(/maxSessionsPerPrincipal 2 reached for principal "token:alice".*DELETE/)
    expect(await canOpen(BOB)).toBe(true)
    for (const s of sessions) await s.transport.terminateSession()
    expect(await canOpen(ALICE)).toBe(true)
    const metrics = await (await fetch(new URL('/metrics', url), { headers: { authorization: `Bearer ${BOB}` } })).text()
    expect(metrics).toMatch(/p2p_mcp_http_refused\{limit="maxSessionsPerPrincipal"\} [1-9]/)
  })

  it('bounds requests in flight per principal across 2025 sessions and stateless 2026-07-28 requests', async () => {
    const [{ client: a1, transport: t1 }, a2026, b2026] = [await legacy(ALICE), await modern(ALICE), await modern(BOB)]
    const held = [a1.callTool({ name: 'local__hold', arguments: {} }), a2026.callTool({ name: 'local__hold', arguments: {} })]
    await waitInside(2)
    await expect(a2026.callTool({ name: 'local__echo', arguments: {} })).rejects.toThrow(/maxInFlightPerPrincipal 2/)
    expect((await b2026.callTool({ name: 'local__echo', arguments: {} })).content).toEqual([{ type: 'text', text: 'echo' }])
    release()
    await Promise.all(held)
    expect((await a2026.callTool({ name: 'local__echo', arguments: {} })).isError).not.toBe(true)
    await t1.terminateSession()
    await Promise.all([a1.close(), a2026.close(), b2026.close()])
  })

  it('bounds subscriptions/listen streams per principal', async () => {
    const listen = (token: string, signal?: AbortSignal): Promise<Response> => fetch(url, {
      method: 'POST',
      headers: { ...headers, authorization: `Bearer ${token}`, 'mcp-protocol-version': MODERN, 'mcp-method': 'subscriptions/listen' },
      body: JSON.stringify({ jsonrpc: '2.0', id: 3, method: 'subscriptions/listen', params: { notifications: { toolsListChanged: true }, _meta: meta } }),
      ...(signal === undefined ? {} : { signal }),
    })
    const first = new AbortController()
    const stream = await listen(ALICE, first.signal)
    expect(stream.status).toBe(200)
    expect(stream.headers.get('content-type')).toContain('text/event-stream')
    const second = await listen(ALICE)
    expect(second.status).toBe(503)
    expect(await second.text()).toContain('maxStreamsPerPrincipal 1 reached')
    const bobs = new AbortController()
    expect((await listen(BOB, bobs.signal)).status).toBe(200)
    first.abort()
    bobs.abort()
  })

  it('the CLI ends its sessions on every exit path: more runs than the quota all succeed, and SIGINT mid-call ends the session', async () => {
    const flags = ['--url', url.href, '--token', ALICE]
    for (const args of [['status'], ['tools'], ['call', 'local__echo'], ['status']]) {
      const r = await runCli([...args, ...flags], 60_000)
      expect({ args, code: r.code, stderr: r.stderr }).toMatchObject({ code: 0 })
    }
    const failed = await runCli(['call', 'local__nope', ...flags], 60_000)
    expect(failed.code).toBe(1)
    expect(await canOpen(ALICE, 2)).toBe(true)
    // SIGINT while a call is in flight: the CLI ends its session before it exits.
    const before = inside
    const child = spawn(process.execPath, ['--import', hooks, cli, 'call', 'local__hold', ...flags], { stdio: ['ignore', 'ignore', 'pipe'] })
    const exited = new Promise<number | null>((resolve) => { child.once('exit', (code) => { resolve(code) }) })
    await waitInside(before + 1)
    child.kill('SIGINT')
    expect(await exited).toBe(130)
    await until('both of alice\'s session slots free', async () => (await canOpen(ALICE, 2)) || undefined, 30_000)
    release()
  })
})
