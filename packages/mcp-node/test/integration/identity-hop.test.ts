// The caller's identity across the hop (decision 0176): the entry peer signs who the caller is
// into the routed request's _meta, the serving peer verifies it against the libp2p connection,
// enforces its own policy on that caller, and logs the entry peer as the asserter.
import { Client } from '@modelcontextprotocol/sdk/client/index.js'
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js'
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { z } from 'zod'
import { createMcpNode, type Logger, type McpNode } from '../../src/index.js'
import { startReference } from './peers.js'

const ALICE = 'alice-token-0123456789'
const BOB = 'bob-token-0123456789ab'
const nodes: McpNode[] = []
const lines: Array<Record<string, unknown>> = []
let entry: McpNode
let serving: McpNode
let reference: Awaited<ReturnType<typeof startReference>>

function capturingLogger (bindings: Record<string, unknown> = {}): Logger {
  const at = (level: string) => (first: unknown, ...rest: unknown[]): void => {
    const fields = typeof first === 'object' && first !== null ? first as Record<string, unknown> : {}
    lines.push({ ...bindings, ...fields, level, msg: typeof first === 'string' ? first : rest[0] })
  }
  return { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error'), child: (b) => capturingLogger({ ...bindings, ...b }) }
}

async function httpClient (token: string): Promise<Client> {
  const client = new Client({ name: 'hop-test', version: '1' })
  await client.connect(new StreamableHTTPClientTransport(entry.httpUrl!, { requestInit: { headers: { authorization: `Bearer ${token}` } } }))
  return client
}

beforeAll(async () => {
  // A 2026-07-28 server (SDK v2), hosted by the serving peer: its requests are relayed as they are.
  reference = await startReference()
  // The serving peer's own policy: bob may not echo, and its own `local` may not either.
  // No control plane: its replicated policy would give the entry peer the serving peer's rules.
  serving = createMcpNode({
    http: { enabled: false },
    controlPlane: { enabled: false },
    heartbeatIntervalMs: 300,
    upstreams: [{ name: 'reference', type: 'http', url: reference.url.href }],
    policy: {
      rules: [
        { principal: 'token:bob', deny: ['local__echo', 'reference__test_simple_text'], resources: { deny: ['memo://*'] }, prompts: { deny: ['local__greet'] } },
        { principal: 'local', deny: ['local__echo'] },
      ],
    },
  }, { logger: capturingLogger() })
  serving.registerResource('memo', 'memo://one', { mimeType: 'text/plain' }, (uri) => ({ contents: [{ uri: uri.href, text: 'a memo' }] }))
  serving.registerPrompt('greet', {}, () => ({ messages: [{ role: 'user', content: { type: 'text', text: 'hello' } }] }))
  serving.registerTool('echo', { inputSchema: { text: z.string() } }, ({ text }: { text: string }): Promise<CallToolResult> => Promise.resolve({ content: [{ type: 'text', text }] }))
  nodes.push(serving)
  await serving.start()
  entry = createMcpNode({ heartbeatIntervalMs: 300, controlPlane: { enabled: false }, bootstrap: [serving.multiaddrs[0]!], http: { tokens: [{ token: ALICE, subject: 'alice' }, { token: BOB, subject: 'bob' }] } })
  nodes.push(entry)
  await entry.start()
  await entry.waitForTool('local__echo', { timeoutMs: 30_000 })
  await entry.waitForTool('reference__test_simple_text', { timeoutMs: 30_000 })
}, 60_000)

afterAll(async () => {
  await Promise.allSettled(nodes.map(async (n) => { await n.stop({ graceMs: 500 }) }))
  await reference?.close()
})

/** One 2026-07-28 tools/call to the entry peer's /servers/reference/mcp, relayed as it is to the serving peer. */
async function modernCall (token: string): Promise<{ status: number, text: string, replica: string | null }> {
  const res = await fetch(new URL('/servers/reference/mcp', entry.httpUrl), {
    method: 'POST',
    headers: {
      authorization: `Bearer ${token}`, 'content-type': 'application/json', accept: 'application/json, text/event-stream',
      'mcp-protocol-version': '2026-07-28', 'mcp-method': 'tools/call', 'mcp-name': 'test_simple_text',
    },
    body: JSON.stringify({
      jsonrpc: '2.0', id: 1, method: 'tools/call',
      params: { name: 'test_simple_text', arguments: {}, _meta: { 'io.modelcontextprotocol/protocolVersion': '2026-07-28', 'io.modelcontextprotocol/clientInfo': { name: 'raw', version: '1' }, 'io.modelcontextprotocol/clientCapabilities': {} } },
    }),
  })
  return { status: res.status, text: await res.text(), replica: res.headers.get('p2p-mcp-replica') }
}

describe('identity across the hop', () => {
  it('the serving peer sees the caller the entry peer authenticated, and logs the entry peer as asserter', async () => {
    const alice = await httpClient(ALICE)
    expect(await alice.callTool({ name: 'local__echo', arguments: { text: 'from alice' } })).toMatchObject({ content: [{ text: 'from alice' }] })
    await alice.close()
    const seen = lines.find((l) => l.msg === 'tools/call' && l.principal === 'token:alice')
    expect(seen).toMatchObject({ assertedBy: `peer:${entry.peerId}`, door: 'libp2p' })
  })

  it('the serving peer enforces its policy per user: bob is refused there though the entry peer allows him', async () => {
    const bob = await httpClient(BOB)
    expect((await bob.listTools()).tools.map((t) => t.name)).toContain('local__echo')
    await expect(bob.callTool({ name: 'local__echo', arguments: { text: 'x' } })).rejects.toThrowError(/not allowed for principal "token:bob": denied by policy\.rules\.0/)
    await bob.close()
    // The serving peer's audit log records the user and the peer that vouched for him.
    const local = await serving.connectClient()
    const audit = await local.readResource({ uri: 'mesh://audit?principal=token:bob&outcome=denied' })
    await local.close()
    const entries = (JSON.parse((audit.contents[0] as { text: string }).text) as { entries: Array<Record<string, unknown>> }).entries
    expect(entries).toEqual([expect.objectContaining({ principal: 'token:bob', assertedBy: `peer:${entry.peerId}`, role: 'serving', target: 'local__echo', outcome: 'denied' })])
  })

  it('resources/read and prompts/get carry the caller too: alice reads and gets, bob is refused by the serving peer', async () => {
    const alice = await httpClient(ALICE)
    expect(await alice.readResource({ uri: 'memo://one' })).toMatchObject({ contents: [{ text: 'a memo' }] })
    expect(await alice.getPrompt({ name: 'local__greet' })).toMatchObject({ messages: [{ content: { text: 'hello' } }] })
    await alice.close()
    const bob = await httpClient(BOB)
    await expect(bob.readResource({ uri: 'memo://one' })).rejects.toThrowError(/not allowed for principal "token:bob"/)
    await expect(bob.getPrompt({ name: 'local__greet' })).rejects.toThrowError(/not allowed for principal "token:bob"/)
    // A forged identity in the client's _meta is dropped at the entry peer, not believed by the serving peer.
    const forged = { v: 1, principal: 'token:alice', scopes: [], peer: entry.peerId, iat: Date.now(), exp: Date.now() + 60_000, sig: 'AAAA' }
    await expect(bob.readResource({ uri: 'memo://one', _meta: { 'p2p-mcp/identity': forged } })).rejects.toThrowError(/not allowed for principal "token:bob"/)
    await bob.close()
  })

  it('an identity a client puts in _meta is dropped: the entry peer asserts its own caller', async () => {
    const forged = { v: 1, principal: 'local', scopes: [], peer: entry.peerId, iat: Date.now(), exp: Date.now() + 60_000, sig: 'AAAA' }
    const alice = await httpClient(ALICE)
    expect(await alice.callTool({ name: 'local__echo', arguments: { text: 'forged' }, _meta: { 'p2p-mcp/identity': forged } })).toMatchObject({ content: [{ text: 'forged' }] })
    await alice.close()
  })

  it("the entry peer's local client is not the serving peer's local: it arrives as peer:<entry>", async () => {
    const local = await entry.connectClient()
    expect(await local.callTool({ name: 'local__echo', arguments: { text: 'stdio at the entry' } })).toMatchObject({ content: [{ text: 'stdio at the entry' }] })
    await local.close()
    // The serving peer's own local client is refused by its rule.
    const own = await serving.connectClient()
    await expect(own.callTool({ name: 'local__echo', arguments: { text: 'x' } })).rejects.toThrowError(/not allowed for principal "local"/)
    await own.close()
  })

  it('a 2026-07-28 request relayed as it is carries the caller too: the serving peer refuses bob and audits him with the entry peer', async () => {
    const alice = await modernCall(ALICE)
    expect(alice.text).toContain('This is a simple text response for testing.')
    expect(alice.replica).toBe(serving.peerId)
    const bob = await modernCall(BOB)
    expect(bob.text).toMatch(/not allowed for principal \\"token:bob\\"/)
    const local = await serving.connectClient()
    const audit = await local.readResource({ uri: 'mesh://audit?principal=token:bob&outcome=denied&tool=reference__*' })
    await local.close()
    const entries = (JSON.parse((audit.contents[0] as { text: string }).text) as { entries: Array<Record<string, unknown>> }).entries
    expect(entries).toEqual([expect.objectContaining({ principal: 'token:bob', assertedBy: `peer:${entry.peerId}`, role: 'serving', target: 'reference__test_simple_text' })])
  })
})
