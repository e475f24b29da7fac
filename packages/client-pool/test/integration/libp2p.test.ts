// The pool over real libp2p nodes (memory transport, noise, yamux) through @p2p-mcp/transport:
// a replica's connection is aborted mid-request (no close handshake) under load.
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js'
import { createTestNet, type TestNode } from '@p2p-mcp/testkit'
import { dialMcp, serveMcp, type Unserve } from '@p2p-mcp/transport'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { z } from 'zod'
import { createClientPool } from '../../src/index.js'
import type { ClientPool } from '../../src/index.js'
import { load } from '../replica.js'

interface Host { node: TestNode, unserve: Unserve, adds: number, charges: string[] }

let net: ReturnType<typeof createTestNet>
let caller: TestNode
let hosts: Host[] = []
let pool: ClientPool | undefined

function server (host: Host): McpServer {
  const s = new McpServer({ name: 'p2p-test', version: '1.0.0' })
  const pause = async (): Promise<void> => { await new Promise((resolve) => setTimeout(resolve, 3)) }
  s.registerTool('add', { inputSchema: { a: z.number(), b: z.number() }, annotations: { idempotentHint: true } }, async ({ a, b }) => {
    host.adds++
    await pause()
    return { content: [{ type: 'text', text: String(a + b) }] }
  })
  s.registerTool('charge', { inputSchema: { key: z.string() } }, async ({ key }) => {
    host.charges.push(key)
    await pause()
    return { content: [{ type: 'text', text: `charged ${key}` }] }
  })
  return s
}

beforeEach(async () => {
  net = createTestNet()
  const nodes = await net.nodes(4, { transport: 'memory' })
  caller = nodes[0]!
  hosts = []
  for (const node of nodes.slice(1)) {
    const host = { node, adds: 0, charges: [] } as unknown as Host
    host.unserve = await serveMcp(node, () => server(host))
    hosts.push(host)
  }
  pool = createClientPool({
    balancer: 'round-robin',
    healthCheck: false,
    retry: { minRetriesPerSecond: 100 },
    endpoints: hosts.map((h) => ({ id: h.node.peerId.toString(), connect: async ({ signal }) => await dialMcp(caller, h.node.getMultiaddrs(), { signal }) })),
  })
})

afterEach(async () => {
  await pool?.close()
  for (const h of hosts) await h.unserve()
  await net.stop()
  pool = undefined
})

/** Aborts the caller's connections to the host (a reset, no close handshake) and stops it serving. */
async function kill (host: Host): Promise<void> {
  for (const conn of caller.getConnections(host.node.peerId)) conn.abort(new Error('connection reset by test'))
  await host.unserve()
}

describe('the pool over libp2p', () => {
  it('idempotent tool: zero failed calls when a replica\'s connection is aborted mid-request', async () => {
    const p = pool!
    let failed = 0
    await load(300, 9, async (i) => {
      if (i === 100) await kill(hosts[1]!)
      try {
        const r = await p.callTool({ name: 'add', arguments: { a: i, b: 3 } })
        expect(r.content).toEqual([{ type: 'text', text: String(i + 3) }])
      } catch (err) {
        failed++
        throw err
      }
    })
    expect(failed).toBe(0)
    expect(p.stats().retries).toBeGreaterThan(0)
    expect(hosts[0]!.adds + hosts[2]!.adds).toBeGreaterThan(200)
  })

  it('non-idempotent tool: no key charged twice, failures are CallFailedError', async () => {
    const p = pool!
    const errors: Error[] = []
    let ok = 0
    await load(300, 9, async (i) => {
      if (i === 100) await kill(hosts[1]!)
      try {
        await p.callTool({ name: 'charge', arguments: { key: `k${i}` } })
        ok++
      } catch (err) {
        errors.push(err as Error)
      }
    })
    const keys = hosts.flatMap((h) => h.charges)
    expect(new Set(keys).size).toBe(keys.length)
    expect(ok + errors.length).toBe(300)
    for (const err of errors) expect(err.name).toBe('CallFailedError')
  })
})
