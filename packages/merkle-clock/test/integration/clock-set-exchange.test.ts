// /p2p-mcp/clocks/1.0.0: several named clocks over one protocol.
import type { Libp2p } from '@libp2p/interface'
import { afterEach, describe, expect, it } from 'vitest'
import { MerkleClock } from '../../src/index.js'
import { CLOCK_SET_PROTOCOL, ClockSetExchange } from '../../src/libp2p.js'
import { startNodes, stopNodes } from './nodes.js'

let nodes: Libp2p[] = []
afterEach(async () => {
  await stopNodes(nodes)
  nodes = []
})

describe('/p2p-mcp/clocks/1.0.0 between libp2p nodes (memory transport)', () => {
  it('syncs each named clock on its own, fetching exactly its missing events; an unknown name fails', async () => {
    nodes = await startNodes(2)
    const [na, nb] = nodes as [Libp2p, Libp2p]
    const clocksA = new Map([['x', new MerkleClock<string>()], ['y', new MerkleClock<string>()]])
    const clocksB = new Map([['x', new MerkleClock<string>()], ['y', new MerkleClock<string>()]])
    const xa = new ClockSetExchange(na, (n) => clocksA.get(n))
    const xb = new ClockSetExchange(nb, (n) => clocksB.get(n))
    await xa.start()
    await xb.start()
    expect(CLOCK_SET_PROTOCOL).toBe('/p2p-mcp/clocks/1.0.0')

    for (let i = 0; i < 10; i++) await clocksA.get('x')!.advance(`x${i}`)
    for (let i = 0; i < 3; i++) await clocksA.get('y')!.advance(`y${i}`)
    const x = await xb.sync(na.getMultiaddrs(), 'x')
    expect(x.added).toHaveLength(10)
    expect(x.blockRequests).toBe(10)
    expect(clocksB.get('y')!.heads).toEqual([])
    const y = await xb.sync(na.peerId, 'y')
    expect(y.blockRequests).toBe(3)
    expect(clocksB.get('y')!.heads.map(String)).toEqual(clocksA.get('y')!.heads.map(String))

    clocksB.set('z', new MerkleClock<string>())
    await expect(xb.sync(na.peerId, 'z')).rejects.toMatchObject({ name: 'ClockExchangeError' })
    await expect(xb.sync(na.peerId, 'nope')).rejects.toMatchObject({ name: 'ClockExchangeError' })
    // The exchange still serves after a refused request.
    await clocksA.get('x')!.advance('x-late')
    expect((await xb.sync(na.peerId, 'x')).blockRequests).toBe(1)
    await xa.stop()
    await xb.stop()
  })
})
