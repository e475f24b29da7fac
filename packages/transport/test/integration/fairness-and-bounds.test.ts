// Issue 17, items 4-6: limit refusals are typed answers, the session table is shared fairly
// between peers, and a remote that sends requests without reading the answers is cut off.
import { Client } from '@modelcontextprotocol/sdk/client/index.js'
import { McpError } from '@modelcontextprotocol/sdk/types.js'
import type { Stream } from '@libp2p/interface'
import { afterEach, describe, expect, it } from 'vitest'
import { createTestNet, deferred, within, type TestNode } from '@p2p-mcp/testkit'
import { dialMcp, LIMIT_REFUSED_CODE, MCP_PROTOCOL, serveMcp } from '../../src/index.js'
import { writeVarint } from '../../src/frame.js'
import { makeServer } from '../helpers.js'

const T = 20_000

function frame (message: unknown): Uint8Array {
  const body = new TextEncoder().encode(JSON.stringify(message))
  const out = new Uint8Array(body.length + 5)
  const at = writeVarint(out, 0, body.length)
  out.set(body, at)
  return out.subarray(0, at + body.length)
}

const INITIALIZE = { jsonrpc: '2.0', id: 0, method: 'initialize', params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'raw', version: '1' } } }

async function connectClient (from: TestNode, to: TestNode): Promise<Client> {
  const client = new Client({ name: 'a', version: '1.0.0' })
  await client.connect(await dialMcp(from, to.getMultiaddrs()))
  return client
}

async function echo (client: Client, text: string): Promise<unknown> {
  return await client.callTool({ name: 'echo', arguments: { text } })
}

function onClosed (client: Client): Promise<void> {
  const d = deferred<void>()
  client.onclose = () => { d.resolve() }
  return d.promise
}

describe('session limits, fairness and send bounds', () => {
  const net = createTestNet()
  afterEach(async () => { await net.stop() })

  it('answers a session over a limit with a typed JSON-RPC refusal (-32029, SessionLimitError), not a reset', async () => {
    const [a, b] = await net.nodes(2) as [TestNode, TestNode]
    const errors: Error[] = []
    const unserve = await serveMcp(b, () => makeServer(undefined), { maxSessionsPerPeer: 1, onerror: (err) => { errors.push(err) } })
    const first = await connectClient(a, b)
    const refused = connectClient(a, b)
    await expect(refused).rejects.toBeInstanceOf(McpError)
    await expect(refused).rejects.toMatchObject({
      code: LIMIT_REFUSED_CODE,
      data: { name: 'SessionLimitError', limit: 'maxSessionsPerPeer', value: 1 },
      message: expect.stringMatching(/maxSessionsPerPeer 1 reached/) as unknown,
    })
    expect(errors.map((e) => e.name)).toEqual(['SessionLimitError'])
    expect(await echo(first, 'still served')).toMatchObject({ content: [{ text: 'still served' }] })
    expect(unserve.sessionCount).toBe(1)
    await first.close()
    await unserve()
  })

  it('keeps an established peer in when throwaway identities fill the table: their unused sessions make room', async () => {
    const [established, b, ...throwaway] = await net.nodes(6) as [TestNode, TestNode, ...TestNode[]]
    const errors: Error[] = []
    const maxSessions = 8
    const unserve = await serveMcp(b, () => makeServer(undefined), { maxSessions, unusedGraceMs: 0, onerror: (err) => { errors.push(err) } })
    // The established peer opens two sessions and uses them.
    const mine = [await connectClient(established, b), await connectClient(established, b)]
    for (const c of mine) expect(await echo(c, 'in use')).toMatchObject({ content: [{ text: 'in use' }] })
    const mineClosed = mine.map(onClosed)
    // Each throwaway identity tries to open a full table of sessions and never uses them.
    const opened: Client[] = []
    let refused = 0
    for (const t of throwaway) {
      for (let i = 0; i < maxSessions; i++) {
        try { opened.push(await connectClient(t, b)) } catch (err) {
          expect(err).toMatchObject({ code: LIMIT_REFUSED_CODE, data: { name: 'SessionLimitError' } })
          refused++
        }
      }
    }
    expect(unserve.sessionCount).toBe(maxSessions)
    // Later identities got in by taking the unused sessions of earlier ones (never their own,
    // never the established peer's used ones); what found no such session was refused.
    const evicted = errors.filter((e) => e.name === 'SessionEvictedError')
    expect(evicted.length).toBeGreaterThan(0)
    expect(evicted.length + refused + (maxSessions - mine.length)).toBe(throwaway.length * maxSessions)
    for (const e of evicted) expect(e.message).not.toContain(`of ${established.peerId.toString()} was`)
    for (const c of mine) expect(await echo(c, 'kept')).toMatchObject({ content: [{ text: 'kept' }] })
    // And it can still open a third session while the table is full.
    const third = await connectClient(established, b)
    expect(await echo(third, 'admitted')).toMatchObject({ content: [{ text: 'admitted' }] })
    const outcome = await Promise.race([Promise.race(mineClosed).then(() => 'closed'), Promise.resolve('open')])
    expect(outcome).toBe('open')
    await Promise.all([...mine, third].map(async (c) => { await c.close() }))
    await Promise.all(opened.map(async (c) => { await c.close().catch(() => {}) }))
    await unserve()
  })

  it('a full table of used sessions: a peer holding fewer takes an idle session of the peer holding the most', async () => {
    const [big, small, b] = await net.nodes(3) as [TestNode, TestNode, TestNode]
    const errors: Error[] = []
    const unserve = await serveMcp(b, () => makeServer(undefined), { maxSessions: 4, onerror: (err) => { errors.push(err) } })
    const bigs: Client[] = []
    for (let i = 0; i < 4; i++) {
      const c = await connectClient(big, b)
      expect(await echo(c, 'used')).toMatchObject({ content: [{ text: 'used' }] })
      bigs.push(c)
    }
    const closedOnes = bigs.map(onClosed)
    // The oldest-quiet of the big holder's idle sessions is the first one.
    expect(await echo(bigs[0]!, 'used again')).toBeDefined()
    const s1 = await connectClient(small, b)
    const evictedIndex = await within(T, 'one of the big holder\'s sessions to close', Promise.race(closedOnes.map(async (p, i) => { await p; return i })))
    expect(evictedIndex).toBe(1)
    expect(errors.map((e) => e.name)).toEqual(['SessionEvictedError'])
    expect(errors[0]!.message).toContain(small.peerId.toString())
    // 3 against 1: the small holder takes one more; then 2 against 2, and the next is refused.
    const s2 = await connectClient(small, b)
    await expect(connectClient(small, b)).rejects.toMatchObject({ code: LIMIT_REFUSED_CODE, data: { name: 'SessionLimitError', limit: 'maxSessions' } })
    expect(await echo(s1, 'small')).toBeDefined()
    expect(await echo(s2, 'small')).toBeDefined()
    await Promise.all([...bigs, s1, s2].map(async (c) => { await c.close().catch(() => {}) }))
    await unserve()
  })

  it('refuses requests past maxInFlight with a typed answer (-32029, InFlightLimitError) and runs none of them', async () => {
    const [a, b] = await net.nodes(2) as [TestNode, TestNode]
    const errors: Error[] = []
    let started = 0
    const allStarted = deferred<void>()
    const unserve = await serveMcp(b, () => makeServer(undefined, { onStarted: () => { if (++started === 3) allStarted.resolve() } }), {
      maxInFlight: 3, onerror: (err) => { errors.push(err) },
    })
    const client = await connectClient(a, b)
    const stop = new AbortController()
    const hanging = Array.from({ length: 3 }, async () => await client.callTool({ name: 'hang', arguments: {} }, undefined, { signal: stop.signal }).catch(() => 'cancelled'))
    await within(T, 'three calls to start', allStarted.promise)
    await expect(echo(client, 'one too many')).rejects.toMatchObject({ code: LIMIT_REFUSED_CODE, data: { name: 'InFlightLimitError', limit: 'maxInFlight', value: 3 } })
    expect(started).toBe(3)
    expect(errors.map((e) => e.name)).toEqual(['InFlightLimitError'])
    stop.abort()
    await Promise.all(hanging)
    // Cancelled calls no longer count: the session serves again.
    expect(await echo(client, 'again')).toMatchObject({ content: [{ text: 'again' }] })
    await client.close()
    await unserve()
  })

  it('resets a stream whose remote sends requests and never reads the answers (SendQueueFullError); others are served', async () => {
    const [a, b, c] = await net.nodes(3, { transport: 'tcp' }) as [TestNode, TestNode, TestNode]
    const errors: Error[] = []
    const maxQueuedBytes = 1024 * 1024
    const unserve = await serveMcp(b, () => makeServer(undefined), { maxQueuedBytes, maxInFlight: 0, onerror: (err) => { errors.push(err) } })
    const bystander = await connectClient(c, b)
    const stream: Stream = await a.dialProtocol(b.getMultiaddrs(), MCP_PROTOCOL)
    // Reads nothing: yamux stops granting the serving side window, so its answers queue there.
    stream.pause()
    const reset = deferred<void>()
    stream.addEventListener('close', () => { reset.resolve() })
    stream.send(frame(INITIALIZE))
    stream.send(frame({ jsonrpc: '2.0', method: 'notifications/initialized' }))
    const text = 'x'.repeat(4096)
    // 2,000 answers of 4 KiB: 8 MiB, eight times the bound.
    for (let i = 1; i <= 2000 && stream.status === 'open'; i++) {
      if (!stream.send(frame({ jsonrpc: '2.0', id: i, method: 'tools/call', params: { name: 'echo', arguments: { text } } }))) {
        await Promise.race([new Promise((resolve) => { stream.addEventListener('drain', resolve, { once: true }) }), reset.promise])
      }
    }
    await within(T, 'the non-reading stream to be reset', reset.promise)
    const full = errors.find((e) => e.name === 'SendQueueFullError') as (Error & { queuedBytes: number, maxQueuedBytes: number }) | undefined
    expect(full).toBeDefined()
    expect(full!.maxQueuedBytes).toBe(maxQueuedBytes)
    expect(full!.queuedBytes).toBeGreaterThan(maxQueuedBytes)
    expect(full!.message).toMatch(/not reading/)
    expect(await echo(bystander, 'unaffected')).toMatchObject({ content: [{ text: 'unaffected' }] })
    await within(T, 'the reset session to leave the table', (async () => { while (unserve.sessionCount > 1) await new Promise((resolve) => setTimeout(resolve, 20)) })())
    await bystander.close()
    await unserve()
  })
})
