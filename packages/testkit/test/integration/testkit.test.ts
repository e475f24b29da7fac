import { afterEach, describe, expect, it } from 'vitest'
import { createTestNet, cutConnections, deferred, within, type TestNode } from '../../src/index.js'

describe('testkit', () => {
  const net = createTestNet()
  afterEach(async () => { await net.stop() })

  it.each(['memory', 'tcp'] as const)('starts %s nodes that connect and ping, and stops them', async (transport) => {
    const [a, b, c] = await net.nodes(3, { transport }) as [TestNode, TestNode, TestNode]
    const addrs = [a, b, c].flatMap((n) => n.getMultiaddrs().map(String))
    expect(new Set(addrs).size).toBe(addrs.length)
    for (const addr of addrs) expect(addr).toMatch(transport === 'tcp' ? /^\/ip4\/127\.0\.0\.1\/tcp\/\d+\/p2p\// : /^\/memory\/[0-9a-f-]+\/p2p\//)
    const conn = await net.connect(a, b)
    expect(conn.remotePeer.equals(b.peerId)).toBe(true)
    expect(await a.services.ping.ping(b.peerId)).toBeGreaterThanOrEqual(0)
    await net.stop()
    expect([a, b, c].map((n) => n.status)).toEqual(['stopped', 'stopped', 'stopped'])
    await net.stop()
  })

  it('runs a peer process, reaches it, and sees it die when killed', async () => {
    const a = await net.node({ transport: 'tcp' })
    const peer = await net.spawn(new URL('../fixtures/peer.ts', import.meta.url), { args: ['tester'] })
    expect(peer.info).toEqual({ role: 'tester' })
    expect(peer.multiaddrs[0]).toMatch(new RegExp(`/p2p/${peer.peerId}$`))
    const conn = await a.dial(peer.addrs)
    const closed = deferred<void>()
    a.addEventListener('peer:disconnect', () => { closed.resolve() })
    expect(conn.remotePeer.toString()).toBe(peer.peerId)
    expect(peer.stderr()).toContain('peer up')
    await peer.kill()
    expect(peer.child.signalCode).toBe('SIGKILL')
    await within(10_000, 'the connection to drop', closed.promise)
  })

  it('cuts connections abruptly', async () => {
    const [a, b] = await net.nodes(2) as [TestNode, TestNode]
    await net.connect(a, b)
    const dropped = deferred<void>()
    b.addEventListener('peer:disconnect', () => { dropped.resolve() })
    expect(cutConnections(a, b)).toBe(1)
    await within(10_000, 'b to see the disconnect', dropped.promise)
    expect(a.getConnections(b.peerId)).toHaveLength(0)
  })

  it('stops a peer process gracefully', async () => {
    const peer = await net.spawn(new URL('../fixtures/peer.ts', import.meta.url))
    await peer.stop()
    expect(peer.child.exitCode).toBe(0)
  })

  it('within() rejects with what it was waiting for', async () => {
    await expect(within(20, 'the moon', new Promise(() => {}))).rejects.toThrow('timed out after 20 ms waiting for the moon')
  })
})
