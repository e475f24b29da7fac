// A partition that isolates a minority, with real peers (libp2p TCP on 127.0.0.1, one process):
// the Raft and control protocols between the two sides are cut (libp2p stream middleware on
// every peer, open connections aborted), the MCP protocol is not. The minority refuses writes
// with NoQuorumError and keeps serving tool calls; the majority goes on; after healing the
// minority catches up.
import type { Client } from '@modelcontextprotocol/sdk/client/index.js'
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js'
import { RAFT_PROTOCOL } from '@p2p-mcp/consensus/libp2p'
import { afterAll, describe, expect, it } from 'vitest'
import { CONTROL_PROTOCOL, createMcpNode, type McpNode } from '../../src/index.js'
import { until } from './peers.js'

const nodes: McpNode[] = []
const clients: Client[] = []
afterAll(async () => {
  await Promise.allSettled(clients.map(async (c) => { await c.close() }))
  await Promise.allSettled(nodes.map(async (n) => { await n.stop({ graceMs: 500 }) }))
})

const controlPlane = { admins: ['local'], stabilizationMs: 1_000, timeoutMs: 2_000, tickIntervalMs: 200 }

function peer (bootstrap: string[]): McpNode {
  const node = createMcpNode({ http: { enabled: false }, heartbeatIntervalMs: 500, bootstrap, controlPlane })
  nodes.push(node)
  return node
}

async function client (n: McpNode): Promise<Client> {
  const c = await n.connectClient()
  clients.push(c)
  return c
}

const status = async (c: Client): Promise<{ voters: string[], leader: string, policyVersion: number }> =>
  (await c.callTool({ name: 'mesh__control_status', arguments: {} })).structuredContent as never

function cut (minority: McpNode, majority: McpNode[]): void {
  const all = [minority, ...majority]
  for (const n of all) {
    const blocked = new Set(n === minority ? majority.map((m) => m.peerId) : [minority.peerId])
    for (const protocol of [RAFT_PROTOCOL, CONTROL_PROTOCOL]) {
      n.libp2p.use(protocol, (stream, connection, next) => {
        if (blocked.has(connection.remotePeer.toString())) throw new Error('partitioned by the test')
        next(stream, connection)
      })
    }
  }
  for (const m of majority) for (const c of m.libp2p.getConnections(minority.libp2p.peerId)) c.abort(new Error('partitioned by the test'))
}

function heal (all: McpNode[]): void {
  for (const n of all) for (const protocol of [RAFT_PROTOCOL, CONTROL_PROTOCOL]) n.libp2p.unuse(protocol)
}

describe('control plane under a partition', { timeout: 120_000 }, () => {
  it('the minority refuses writes with NoQuorumError and keeps serving tool calls; after healing it catches up', async () => {
    const a = peer([])
    a.registerTool('ping', { description: 'answers pong', annotations: { readOnlyHint: true, idempotentHint: true } }, (): CallToolResult => ({ content: [{ type: 'text', text: 'pong' }] }))
    await a.start()
    const b = peer([a.multiaddrs[0]!])
    const c = peer([a.multiaddrs[0]!])
    await Promise.all([b.start(), c.start()])
    const atA = await client(a)
    await until('3 voters', async () => ((await status(atA)).voters.length === 3 ? true : undefined), 30_000)
    // the minority must not hold the leader for this test: move leadership away from c if needed
    const minority = (await status(atA)).leader === c.peerId ? b : c
    const majority = [a, b, c].filter((n) => n !== minority)
    const atMinority = await client(minority)
    await minority.waitForTool('local__ping', { timeoutMs: 30_000 })

    cut(minority, majority)
    const w = await atMinority.callTool({ name: 'mesh__policy_set', arguments: { policy: { default: 'allow', rules: [{ principal: 'x', deny: ['y'] }] } } })
    expect(w.isError).toBe(true)
    expect(JSON.stringify(w.content)).toMatch(/NoQuorumError/)
    // the data plane goes on: a tool hosted on a majority peer, called at the minority
    const call = await until('a tool call at the minority', async () => {
      const r = await atMinority.callTool({ name: 'local__ping', arguments: {} }).catch(() => undefined)
      return r?.isError === true ? undefined : r
    }, 15_000, 200)
    expect(JSON.stringify(call.content)).toMatch(/pong/)
    // the majority keeps a leader and commits
    const atMajority = await client(majority[0]!)
    const ok = await until('a majority write', async () => {
      const r = await atMajority.callTool({ name: 'mesh__policy_set', arguments: { policy: { default: 'allow', rules: [{ principal: 'majority', deny: ['z'] }] } } })
      return r.isError === true ? undefined : r
    }, 20_000, 250)
    const version = (ok.structuredContent as { version: number }).version

    heal([a, b, c])
    await until('the minority caught up', async () => ((await status(atMinority)).policyVersion >= version ? true : undefined), 30_000, 200)
  })
})
