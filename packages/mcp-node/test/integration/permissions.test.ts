// Per-principal permissions on tools/call, resources/read and prompts/get and in their lists,
// rate and concurrency limits with -32029 refusals that say when to retry, and the audit log
// (mesh://audit, admins and audit.readers only): one peer with two HTTP principals, then two
// peers where the serving peer enforces its server's access policy.
import { Client } from '@modelcontextprotocol/sdk/client/index.js'
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js'
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { z } from 'zod'
import { createMcpNode, type McpNode } from '../../src/index.js'

const ALICE = 'alice-token-0123456789'
const BOB = 'bob-token-0123456789abc'
const nodes: McpNode[] = []
const clients: Client[] = []

afterAll(async () => {
  await Promise.allSettled(clients.map(async (c) => { await c.close() }))
  await Promise.allSettled(nodes.map(async (n) => { await n.stop({ graceMs: 1_000 }) }))
})

async function http (node: McpNode, token: string): Promise<Client> {
  const client = new Client({ name: 'test', version: '1.0.0' })
  await client.connect(new StreamableHTTPClientTransport(node.httpUrl!, { requestInit: { headers: { authorization: `Bearer ${token}` } } }))
  clients.push(client)
  return client
}

type WireError = { code: number, message: string, data?: Record<string, unknown> }
async function failure (p: Promise<unknown>): Promise<WireError> {
  return await p.then(() => { throw new Error('expected a refusal') }, (e: unknown) => e as WireError)
}

function hostDocs (node: McpNode): void {
  node.registerTool('add', { inputSchema: { a: z.number(), b: z.number() } }, ({ a, b }) => ({ content: [{ type: 'text', text: String(a + b) }] }))
  node.registerTool('wipe', { description: 'dangerous' }, () => ({ content: [{ type: 'text', text: 'wiped' }] }))
  node.registerResource('readme', 'docs://readme', { mimeType: 'text/plain' }, (uri) => ({ contents: [{ uri: uri.href, text: 'read me' }] }))
  node.registerResource('secret', 'docs://secret', { mimeType: 'text/plain' }, (uri) => ({ contents: [{ uri: uri.href, text: 'top secret' }] }))
  node.registerPrompt('greet', { argsSchema: { who: z.string() } }, ({ who }) => ({ messages: [{ role: 'user', content: { type: 'text', text: `hello ${who}` } }] }))
  node.registerPrompt('sudo', {}, () => ({ messages: [{ role: 'user', content: { type: 'text', text: 'root' } }] }))
}

describe('permissions, limits and audit at one peer', () => {
  let node: McpNode
  beforeAll(async () => {
    node = createMcpNode({
      http: { tokens: [{ token: ALICE, subject: 'alice' }, { token: BOB, subject: 'bob' }] },
      policy: {
        rules: [{ principal: 'token:bob', deny: ['docs__wipe'], resources: { deny: ['docs://secret'] }, prompts: { deny: ['docs__sudo'] } }],
        limits: [{ principal: 'token:alice', server: 'docs', requestsPerMinute: 6, burst: 2 }],
      },
    }, { localServerName: 'docs' })
    nodes.push(node)
    hostDocs(node)
    await node.start()
    await node.waitForTool('docs__add', { timeoutMs: 30_000 })
  })

  it('a principal does not see, and cannot use, the tools, resources and prompts it is denied', async () => {
    const bob = await http(node, BOB)
    expect((await bob.listTools()).tools.map((t) => t.name)).not.toContain('docs__wipe')
    expect((await bob.listTools()).tools.map((t) => t.name)).toContain('docs__add')
    expect((await bob.listResources()).resources.map((r) => r.uri)).toEqual(expect.arrayContaining(['docs://readme']))
    expect((await bob.listResources()).resources.map((r) => r.uri)).not.toContain('docs://secret')
    expect((await bob.listPrompts()).prompts.map((p) => p.name)).toEqual(['docs__greet'])

    expect(await failure(bob.callTool({ name: 'docs__wipe', arguments: {} }))).toMatchObject({ code: -32003, data: { name: 'PolicyDeniedError' } })
    expect(await failure(bob.readResource({ uri: 'docs://secret' }))).toMatchObject({ code: -32003, message: expect.stringContaining('resource "docs://secret" is not allowed for principal "token:bob"') as string })
    expect(await failure(bob.getPrompt({ name: 'docs__sudo' }))).toMatchObject({ code: -32003, message: expect.stringContaining('prompt "docs__sudo"') as string })

    expect((await bob.readResource({ uri: 'docs://readme' })).contents[0]).toMatchObject({ text: 'read me' })
    expect(await failure(bob.subscribeResource({ uri: 'docs://secret' }))).toMatchObject({ code: -32003 })
    expect((await bob.getPrompt({ name: 'docs__greet', arguments: { who: 'bob' } })).messages[0]?.content).toMatchObject({ text: 'hello bob' })

    // Another principal is not affected.
    const alice = await http(node, ALICE)
    expect((await alice.listTools()).tools.map((t) => t.name)).toContain('docs__wipe')
    expect((await alice.readResource({ uri: 'docs://secret' })).contents[0]).toMatchObject({ text: 'top secret' })
  })

  it('a principal over its rate gets -32029 naming the limit, with retryAfterMs', async () => {
    const alice = await http(node, ALICE)
    const results = await Promise.allSettled(Array.from({ length: 6 }, async () => await alice.callTool({ name: 'docs__add', arguments: { a: 1, b: 2 } })))
    const refused = results.filter((r) => r.status === 'rejected').map((r) => r.reason as WireError)
    // burst 2 at 6/min (one more every 10 s): of 6 calls made at once, some find no budget left
    expect(refused.length).toBeGreaterThanOrEqual(1)
    expect(refused[0]).toMatchObject({
      code: -32029,
      message: expect.stringContaining('policy.limits.0 (6 requests per minute for principal "token:alice" on server "docs")') as string,
      data: { name: 'RateLimitedError', retryAfterMs: expect.any(Number) as number },
    })
    expect(refused[0]!.data!.retryAfterMs as number).toBeGreaterThan(0)
    expect(refused[0]!.data!.retryAfterMs as number).toBeLessThanOrEqual(60_000)
    // bob has no limit
    const bob = await http(node, BOB)
    for (let i = 0; i < 5; i++) expect((await bob.callTool({ name: 'docs__add', arguments: { a: i, b: 1 } })).isError).not.toBe(true)
  })

  it('a 2026-07-28 request over its rate gets -32029 and Retry-After', async () => {
    const call = async (): Promise<Response> => await fetch(node.httpUrl!, {
      method: 'POST',
      headers: {
        'content-type': 'application/json', accept: 'application/json, text/event-stream', authorization: `Bearer ${ALICE}`,
        'mcp-protocol-version': '2026-07-28', 'mcp-method': 'tools/call', 'mcp-name': 'docs__add',
      },
      body: JSON.stringify({
        jsonrpc: '2.0', id: 7, method: 'tools/call',
        params: { name: 'docs__add', arguments: { a: 1, b: 1 }, _meta: { 'io.modelcontextprotocol/protocolVersion': '2026-07-28', 'io.modelcontextprotocol/clientInfo': { name: 'raw', version: '1' }, 'io.modelcontextprotocol/clientCapabilities': {} } },
      }),
    })
    let limited: Response | undefined
    for (let i = 0; i < 10 && limited === undefined; i++) {
      const res = await call()
      const text = await res.clone().text()
      if (text.includes('-32029')) limited = res
    }
    expect(limited).toBeDefined()
    expect(Number(limited!.headers.get('retry-after'))).toBeGreaterThanOrEqual(1)
    expect(await limited!.json()).toMatchObject({ id: 7, error: { code: -32029, data: { name: 'RateLimitedError', retryAfterMs: expect.any(Number) as number } } })
  })

  it('mesh://audit lists every call with principal, target, serving peer and outcome; only readers see it', async () => {
    const local = await node.connectClient()
    clients.push(local)
    expect((await local.listResources()).resources.map((r) => r.uri)).toContain('mesh://audit')
    expect((await local.listResourceTemplates()).resourceTemplates.map((t) => t.uriTemplate)).toContain('mesh://audit{?principal,tool,outcome,method,since,until,limit}')
    const read = async (uri: string): Promise<Array<Record<string, unknown>>> => {
      const r = await local.readResource({ uri })
      return (JSON.parse((r.contents[0] as { text: string }).text) as { entries: Array<Record<string, unknown>> }).entries
    }
    const denied = await read('mesh://audit?principal=token:bob&outcome=denied')
    expect(denied.map((e) => `${e.method as string} ${e.target as string}`).sort()).toEqual(['prompts/get docs__sudo', 'resources/read docs://secret', 'tools/call docs__wipe'])
    const limited = await read('mesh://audit?principal=token:alice&outcome=rate_limited&tool=docs__add')
    expect(limited.length).toBeGreaterThanOrEqual(2) // the 2025 session's and the 2026 request's
    const ok = await read('mesh://audit?principal=token:bob&outcome=ok&method=tools/call&limit=2')
    expect(ok).toHaveLength(2)
    expect(ok[0]).toMatchObject({ role: 'entry', server: 'docs', peer: node.peerId, target: 'docs__add' })

    const bob = await http(node, BOB)
    expect((await bob.listResources()).resources.map((r) => r.uri)).not.toContain('mesh://audit')
    expect(await failure(bob.readResource({ uri: 'mesh://audit' }))).toMatchObject({ code: -32003 })
    const metrics = await (await fetch(new URL('/metrics', node.httpUrl), { headers: { authorization: `Bearer ${ALICE}` } })).text()
    expect(metrics).toMatch(/p2p_mcp_audit_total\{method="tools\/call",outcome="denied",role="entry"\} [1-9]/)
  })
})

describe('the serving peer enforces its server\'s access policy', () => {
  it('refuses a second concurrent execution with -32029 and announces the policy in its descriptor', async () => {
    const release: Array<() => void> = []
    let started: () => void = () => {}
    const firstStarted = new Promise<void>((resolve) => { started = resolve })
    const serving = createMcpNode({ http: { enabled: false }, heartbeatIntervalMs: 1_000 })
    nodes.push(serving)
    await serving.addUpstream({
      name: 'slow',
      type: 'in-process',
      accessPolicy: { maxConcurrentExecutions: 1, requestsPerMinute: 600 },
      server: () => {
        const s = new McpServer({ name: 'slow', version: '1.0.0' })
        s.registerTool('hold', {}, async () => {
          started()
          await new Promise<void>((resolve) => { release.push(resolve) })
          return { content: [{ type: 'text', text: 'done' }] }
        })
        return s
      },
    })
    await serving.start()
    const entry = createMcpNode({ http: { enabled: false }, heartbeatIntervalMs: 1_000, bootstrap: [serving.multiaddrs[0]!] })
    nodes.push(entry)
    await entry.start()
    await entry.waitForTool('slow__hold', { timeoutMs: 60_000 })
    const descriptor = entry.libp2p.services.registry.providers().find((p) => p.peerId === serving.peerId)?.descriptor
    expect(descriptor?.servers.find((s) => s.name === 'slow')?.accessPolicy).toEqual({ maxConcurrentExecutions: 1, requestsPerMinute: 600 })

    const client = await entry.connectClient()
    clients.push(client)
    const first = client.callTool({ name: 'slow__hold', arguments: {} })
    await firstStarted
    const second = await failure(client.callTool({ name: 'slow__hold', arguments: {} }))
    expect(second).toMatchObject({ code: -32029, message: expect.stringContaining('the access policy of server slow (600 requests per minute, 1 at once on server "slow" at this peer)') as string, data: { name: 'RateLimitedError' } })
    for (const r of release) r()
    expect((await first).content).toEqual([{ type: 'text', text: 'done' }])

    // Both peers audited: the entry peer (principal local, served by the serving peer) and the serving peer (role serving).
    const auditOf = async (node: McpNode, q: string): Promise<Array<Record<string, unknown>>> => {
      const c = await node.connectClient()
      clients.push(c)
      const r = await c.readResource({ uri: `mesh://audit?${q}` })
      return (JSON.parse((r.contents[0] as { text: string }).text) as { entries: Array<Record<string, unknown>> }).entries
    }
    expect(await auditOf(entry, 'tool=slow__hold&outcome=ok')).toEqual([expect.objectContaining({ principal: 'local', role: 'entry', peer: serving.peerId })])
    expect(await auditOf(entry, 'tool=slow__hold&outcome=rate_limited')).toHaveLength(1)
    // The pool may try the only replica again (a refusal is safe to retry): each try is refused and audited there.
    const refusedThere = await auditOf(serving, 'tool=slow__hold&outcome=rate_limited')
    expect(refusedThere.length).toBeGreaterThanOrEqual(1)
    for (const e of refusedThere) expect(e).toMatchObject({ role: 'serving', peer: serving.peerId, principal: `peer:${entry.peerId}` })
  })
})
