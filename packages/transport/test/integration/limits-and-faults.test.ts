import { Client } from '@modelcontextprotocol/sdk/client/index.js'
import { afterEach, describe, expect, it } from 'vitest'
import type { Stream } from '@libp2p/interface'
import { createTestNet, cutConnections, deferred, within, type TestNode } from '@p2p-mcp/testkit'
import { dialMcp, MCP_PROTOCOL, serveMcp, type McpSessionInfo } from '../../src/index.js'
import { writeVarint } from '../../src/frame.js'
import { makeServer } from '../helpers.js'

const T = 10_000

/** One length-prefixed frame whose JSON body is exactly `size` bytes: a JSON-RPC notification padded with spaces. */
function frameOfSize (size: number): Uint8Array {
  const json = '{"jsonrpc":"2.0","method":"notifications/initialized"}'
  const body = new TextEncoder().encode(json + ' '.repeat(size - json.length))
  const out = new Uint8Array(body.length + 5)
  const at = writeVarint(out, 0, body.length)
  out.set(body, at)
  return out.subarray(0, at + body.length)
}

async function closed (stream: Stream): Promise<void> {
  if (stream.status !== 'open') return
  await new Promise<void>((resolve) => { stream.addEventListener('close', () => { resolve() }, { once: true }) })
}

async function connectClient (from: TestNode, to: TestNode, options = {}): Promise<Client> {
  const client = new Client({ name: 'a', version: '1.0.0' })
  await client.connect(await dialMcp(from, to.getMultiaddrs(), options))
  return client
}

describe('limits and faults', () => {
  const net = createTestNet()
  afterEach(async () => { await net.stop() })

  it('refuses a frame one byte over maxFrameBytes with FrameTooLargeError and keeps serving others', async () => {
    const [a, b] = await net.nodes(2) as [TestNode, TestNode]
    const errors: Error[] = []
    const limit = 64 * 1024
    const unserve = await serveMcp(b, () => makeServer(undefined), { maxFrameBytes: limit, onerror: (err) => { errors.push(err) } })
    const bystander = await connectClient(a, b)

    const exact = await a.dialProtocol(b.peerId, MCP_PROTOCOL)
    exact.send(frameOfSize(limit))
    const over = await a.dialProtocol(b.peerId, MCP_PROTOCOL)
    over.send(frameOfSize(limit + 1))
    await within(T, 'the oversized stream to be reset', closed(over))
    expect(over.status).toBe('reset')
    const tooLarge = errors.filter((e) => e.name === 'FrameTooLargeError')
    expect(tooLarge).toHaveLength(1)
    expect(tooLarge[0]).toMatchObject({ code: 'ERR_FRAME_TOO_LARGE', frameBytes: limit + 1, maxFrameBytes: limit })
    expect(tooLarge[0]!.message).toMatch(/raise it with \{ maxFrameBytes \}/)

    // The frame of exactly the limit was accepted: its stream is still open and the node serves the bystander.
    expect(exact.status).toBe('open')
    expect(await bystander.callTool({ name: 'echo', arguments: { text: 'still here' } })).toMatchObject({ content: [{ text: 'still here' }] })
    exact.abort(new Error('done'))
    await bystander.close()
    await unserve()
  })

  it('rejects an outgoing message over maxFrameBytes with FrameTooLargeError before sending it', async () => {
    const [a, b] = await net.nodes(2) as [TestNode, TestNode]
    const unserve = await serveMcp(b, () => makeServer(undefined))
    const client = await connectClient(a, b, { maxFrameBytes: 4096 })
    await expect(client.callTool({ name: 'echo', arguments: { text: 'z'.repeat(5000) } })).rejects.toMatchObject({ name: 'FrameTooLargeError' })
    // Nothing was sent, so the session goes on.
    expect(await client.callTool({ name: 'echo', arguments: { text: 'ok' } })).toMatchObject({ content: [{ text: 'ok' }] })
    await client.close()
    await unserve()
  })

  it('resets a refused peer before reading any message; others are served', async () => {
    const [a, b, c] = await net.nodes(3) as [TestNode, TestNode, TestNode]
    const errors: Error[] = []
    const factoryPeers: string[] = []
    const unserve = await serveMcp(b, (session: McpSessionInfo) => {
      factoryPeers.push(session.remotePeer.toString())
      return makeServer(session)
    }, {
      authorize: async (peer) => { await Promise.resolve(); return !peer.equals(c.peerId) },
      onerror: (err) => { errors.push(err) },
    })
    const refusedClient = new Client({ name: 'c', version: '1.0.0' })
    const transport = await dialMcp(c, b.getMultiaddrs())
    const transportClosed = deferred<void>()
    transport.onclose = () => { transportClosed.resolve() }
    await expect(refusedClient.connect(transport)).rejects.toThrow()
    await within(T, 'the refused transport to close', transportClosed.promise)
    expect(errors.map((e) => e.name)).toEqual(['PeerRefusedError'])
    expect(errors[0]!.message).toContain(c.peerId.toString())
    expect(factoryPeers).toEqual([])

    const client = await connectClient(a, b)
    expect(await client.callTool({ name: 'echo', arguments: { text: 'fine' } })).toMatchObject({ content: [{ text: 'fine' }] })
    expect(factoryPeers).toEqual([a.peerId.toString()])
    await client.close()
    await unserve()
  })

  it('bounds sessions per peer and in total with SessionLimitError', async () => {
    const [a, b, c] = await net.nodes(3) as [TestNode, TestNode, TestNode]
    const errors: Error[] = []
    const unserve = await serveMcp(b, () => makeServer(undefined), { maxSessions: 3, maxSessionsPerPeer: 2, onerror: (err) => { errors.push(err) } })
    const a1 = await connectClient(a, b)
    const a2 = await connectClient(a, b)
    await expect(connectClient(a, b)).rejects.toThrow()
    expect(errors.at(-1)).toMatchObject({ name: 'SessionLimitError', message: expect.stringMatching(/maxSessionsPerPeer 2/) as unknown })
    const c1 = await connectClient(c, b)
    await expect(connectClient(c, b)).rejects.toThrow()
    expect(errors.at(-1)).toMatchObject({ name: 'SessionLimitError', message: expect.stringMatching(/maxSessions 3/) as unknown })
    expect(await a1.callTool({ name: 'echo', arguments: { text: 'x' } })).toMatchObject({ content: [{ text: 'x' }] })
    await Promise.all([a1.close(), a2.close(), c1.close()])
    await unserve()
  })

  it('closes an idle session, but not one with a request in flight', async () => {
    const [a, b] = await net.nodes(2) as [TestNode, TestNode]
    const errors: Error[] = []
    // Long enough for the busy session's call to follow its initialize on a loaded machine
    // (300 ms failed there: the session timed out before its first request).
    const idleTimeoutMs = 1_000
    const unserve = await serveMcp(b, () => makeServer(undefined), { idleTimeoutMs, onerror: (err) => { errors.push(err) } })

    const busy = await connectClient(a, b)
    // The call takes four idle periods without a frame either way: the session must survive it.
    expect(await busy.callTool({ name: 'wait', arguments: { ms: idleTimeoutMs * 4 } })).toMatchObject({ content: [{ text: 'waited' }] })
    expect(errors).toEqual([])

    const idle = await connectClient(a, b)
    const idleClosed = deferred<void>()
    idle.onclose = () => { idleClosed.resolve() }
    await within(T, 'the idle session to close', idleClosed.promise)
    expect(errors.map((e) => e.name)).toContain('IdleTimeoutError')
    await busy.close()
    await unserve()
  })

  it('keeps an idle session open while the remote holds a resource subscription, closes it after the unsubscribe', async () => {
    const [a, b] = await net.nodes(2) as [TestNode, TestNode]
    const errors: Error[] = []
    const idleTimeoutMs = 200
    const unserve = await serveMcp(b, () => makeServer(undefined), { idleTimeoutMs, onerror: (err) => { errors.push(err) } })
    const client = await connectClient(a, b)
    const closed = deferred<void>()
    client.onclose = () => { closed.resolve() }
    await client.subscribeResource({ uri: 'test://counter' })
    // Ten idle periods with no frame either way: a subscriber waits for updates, it is not idle.
    const outcome = await Promise.race([closed.promise.then(() => 'closed'), new Promise((resolve) => { setTimeout(resolve, idleTimeoutMs * 10, 'open') })])
    expect(outcome).toBe('open')
    expect(errors).toEqual([])
    await client.unsubscribeResource({ uri: 'test://counter' }).catch(() => {})
    await within(T, 'the session to close once unsubscribed', closed.promise)
    expect(errors.map((e) => e.name)).toContain('IdleTimeoutError')
    await unserve()
  })

  it('closes the serving side of a session when its connection dies', async () => {
    const [a, b] = await net.nodes(2, { transport: 'tcp' }) as [TestNode, TestNode]
    const serverClosed = deferred<void>()
    const unserve = await serveMcp(b, () => {
      const server = makeServer(undefined)
      server.server.onclose = () => { serverClosed.resolve() }
      return server
    })
    const client = await connectClient(a, b)
    expect(await client.callTool({ name: 'echo', arguments: { text: 'up' } })).toMatchObject({ content: [{ text: 'up' }] })
    expect(unserve.sessionCount).toBe(1)
    expect(cutConnections(a, b)).toBe(1)
    await within(T, 'the server session to close', serverClosed.promise)
    expect(unserve.sessionCount).toBe(0)
    await unserve()
  })

  it('fires onclose on the client when the remote peer process is killed', async () => {
    const a = await net.node({ transport: 'tcp' })
    const peer = await net.spawn(new URL('../fixtures/peer-server.ts', import.meta.url))
    const client = new Client({ name: 'a', version: '1.0.0' })
    const transport = await dialMcp(a, peer.multiaddrs.map((m) => `${m}`)[0]!)
    await client.connect(transport)
    expect(await client.callTool({ name: 'echo', arguments: { text: 'alive' } })).toMatchObject({ content: [{ text: 'alive' }] })
    const clientClosed = deferred<void>()
    client.onclose = () => { clientClosed.resolve() }
    await peer.kill('SIGKILL')
    await within(T, 'the client transport to close', clientClosed.promise)
    await expect(client.callTool({ name: 'echo', arguments: { text: 'dead' } })).rejects.toThrow()
  })
})
