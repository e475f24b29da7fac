import { Client } from '@modelcontextprotocol/sdk/client/index.js'
import { fileURLToPath } from 'node:url'
import { createRequire } from 'node:module'
import { request } from 'node:http'
import { afterEach, describe, expect, it } from 'vitest'
import { createTestNet, type TestNode } from '@p2p-mcp/testkit'
import { connect, serve, type MemoryServed } from '../../src/node.js'
import { makeServer } from '../helpers.js'

const fixture = fileURLToPath(new URL('../fixtures/stdio-server.ts', import.meta.url))
const hooks = createRequire(import.meta.url).resolve('@p2p-mcp/testkit/ts-hooks')

/** POSTs with node:http, which (unlike fetch) lets a test forge the Host header as a rebinding attack would. */
async function post (url: URL, body: string, headers: Record<string, string>): Promise<{ status: number, headers: Record<string, unknown> }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method: 'POST', headers }, (res) => {
      res.resume()
      res.on('end', () => { resolve({ status: res.statusCode ?? 0, headers: res.headers }) })
    })
    req.on('error', reject)
    req.end(body)
  })
}

async function echoThrough (client: Client, text = 'hi'): Promise<unknown> {
  return (await client.callTool({ name: 'echo', arguments: { text } })).content
}

describe('connect() / serve()', () => {
  const net = createTestNet()
  const toClose: Array<{ close: () => Promise<void> }> = []
  afterEach(async () => {
    for (const c of toClose.splice(0).reverse()) await c.close()
    await net.stop()
  })

  it('stdio: runs a child process, keeps its stderr out of the protocol', async () => {
    const stderr: string[] = []
    const transport = await connect({ type: 'stdio', command: process.execPath, args: ['--import', hooks, fixture], onstderr: (t) => { stderr.push(t) } })
    const client = new Client({ name: 'a', version: '1.0.0' })
    toClose.push(client)
    await client.connect(transport)
    expect(client.getServerVersion()?.name).toBe('test-server')
    expect(await echoThrough(client)).toEqual([{ type: 'text', text: 'hi' }])
    expect(stderr.join('')).toContain('stdio fixture starting')
  })

  it('http: stateful sessions on 127.0.0.1, DNS-rebinding protection, bearer tokens reach extra.authInfo', async () => {
    const served = await serve(() => makeServer(undefined), {
      type: 'http',
      port: 0,
      verifyToken: (token) => token === 'good' ? { token, clientId: 'alice', scopes: ['tools'] } : undefined,
    })
    toClose.push(served)
    expect(served.url?.hostname).toBe('127.0.0.1')
    const client = new Client({ name: 'a', version: '1.0.0' })
    toClose.push(client)
    await client.connect(await connect({ type: 'http', url: served.url!, headers: { authorization: 'Bearer good' } }))
    expect(await echoThrough(client)).toEqual([{ type: 'text', text: 'hi' }])
    const who = await client.callTool({ name: 'whoami', arguments: {} })
    expect(JSON.parse((who.content as Array<{ text: string }>)[0]!.text)).toMatchObject({ clientId: 'alice' })
    expect(served.sessionCount).toBe(1)

    const init = JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'x', version: '1' } } })
    const headers = { 'content-type': 'application/json', accept: 'application/json, text/event-stream', authorization: 'Bearer good' }
    // A rebinding attack: the browser sends the attacker's host name.
    const rebound = await post(served.url!, init, { ...headers, host: 'evil.example:80' })
    expect(rebound.status).toBe(403)
    const crossOrigin = await post(served.url!, init, { ...headers, origin: 'http://evil.example' })
    expect(crossOrigin.status).toBe(403)
    const noToken = await post(served.url!, init, { ...headers, authorization: '' })
    expect(noToken.status).toBe(401)
    expect(noToken.headers['www-authenticate']).toMatch(/^Bearer error="invalid_token"/)
    const badToken = await post(served.url!, init, { ...headers, authorization: 'Bearer bad' })
    expect(badToken.status).toBe(401)
    const unknownSession = await post(served.url!, init, { ...headers, 'mcp-session-id': 'nope' })
    expect(unknownSession.status).toBe(404)
    expect(served.sessionCount).toBe(1)
  })

  it('libp2p: serve and connect by spec; the factory sees the remote peer', async () => {
    const [a, b] = await net.nodes(2) as [TestNode, TestNode]
    const peers: string[] = []
    const served = await serve((session) => { peers.push(String(session.remotePeer)); return makeServer(undefined) }, { type: 'libp2p', libp2p: b })
    toClose.push(served)
    const client = new Client({ name: 'a', version: '1.0.0' })
    toClose.push(client)
    await client.connect(await connect({ type: 'libp2p', libp2p: a, peer: b.getMultiaddrs() }))
    expect(await echoThrough(client)).toEqual([{ type: 'text', text: 'hi' }])
    expect(peers).toEqual([a.peerId.toString()])
    expect(served.sessionCount).toBe(1)
  })

  it('memory: in-process pairs', async () => {
    const served: MemoryServed = await serve(() => makeServer(undefined), { type: 'memory' })
    toClose.push(served)
    const client = new Client({ name: 'a', version: '1.0.0' })
    toClose.push(client)
    await client.connect(await connect({ type: 'memory', server: served }))
    expect(await echoThrough(client)).toEqual([{ type: 'text', text: 'hi' }])
    expect(served.sessionCount).toBe(1)
  })

  it('names the invalid field of a spec', async () => {
    const factory = (): ReturnType<typeof makeServer> => makeServer(undefined)
    const cases: Array<[() => Promise<unknown>, string]> = [
      [async () => connect({ type: 'stdio', command: '' }), 'spec.command'],
      [async () => connect({ type: 'stdio', command: 'node', args: 'x' as unknown as string[] }), 'spec.args'],
      [async () => connect({ type: 'stdio', command: 'node', env: { A: 1 } as unknown as Record<string, string> }), 'spec.env'],
      [async () => connect({ type: 'http', url: 'ftp://x' }), 'spec.url'],
      [async () => connect({ type: 'http', url: 'http://x', headers: { a: 1 } as unknown as Record<string, string> }), 'spec.headers'],
      [async () => connect({ type: 'libp2p', libp2p: {} as never, peer: 'x' }), 'spec.libp2p'],
      [async () => connect({ type: 'memory', server: {} as never }), 'spec.server'],
      [async () => connect({ type: 'carrier-pigeon' } as never), 'spec.type'],
      [async () => connect(null as never), 'spec.'],
      [async () => serve(factory, { type: 'http', port: 70000 }), 'spec.port'],
      [async () => serve(factory, { type: 'http', path: 'mcp' }), 'spec.path'],
      [async () => serve(factory, { type: 'http', verifyToken: 'secret' as never }), 'spec.verifyToken'],
      [async () => serve('nope' as never, { type: 'memory' }), 'spec.factory'],
    ]
    for (const [run, field] of cases) {
      const err = await run().then(() => undefined, (e: unknown) => e)
      expect(err, field).toMatchObject({ name: 'InvalidParametersError', field })
      expect((err as Error).message).toContain(`invalid ${field}`)
    }
  })
})
