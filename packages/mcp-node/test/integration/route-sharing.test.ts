// Issue 17, item 4: thousands of downstream sessions on one entry peer use a two-replica
// server. Before, each downstream session opened its own route session per replica, and past
// the replicas' per-peer limit (128 then) the refusals opened both breakers. Now sessions that
// need no server-to-client requests share the route sessions (decision 0155), a session that
// needs them keeps its own, and a limit refusal is a typed -32029 that no breaker counts.
// Real nodes in this process over TCP on 127.0.0.1, real SDK clients.
import type { Client } from '@modelcontextprotocol/sdk/client/index.js'
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js'
import { afterAll, describe, expect, it } from 'vitest'
import { createMcpNode, type McpNode } from '../../src/index.js'

const nodes: McpNode[] = []
afterAll(async () => { await Promise.allSettled(nodes.map(async (n) => { await n.stop({ graceMs: 500 }) })) })

async function started (config: Parameters<typeof createMcpNode>[0], setup?: (n: McpNode) => void): Promise<McpNode> {
  const node = createMcpNode({ http: { enabled: false }, heartbeatIntervalMs: 300, ...config })
  nodes.push(node)
  setup?.(node)
  await node.start()
  return node
}

const whoami = (n: McpNode): void => {
  n.registerTool('whoami', { annotations: { readOnlyHint: true } }, (): Promise<CallToolResult> =>
    Promise.resolve({ content: [{ type: 'text', text: n.peerId }] }))
}

interface PoolView { name: string, pool?: Array<{ peer: string, state: string, breaker: string, failures: number, sessions: number }> }

function poolOf (entry: McpNode): NonNullable<PoolView['pool']> {
  const servers = entry.status().servers as PoolView[]
  return servers.find((s) => s.name === 'local')?.pool ?? []
}

async function twoReplicas (libp2pDoor?: { maxSessionsPerPeer: number }): Promise<{ entry: McpNode, replicas: McpNode[] }> {
  const r1 = await started({ name: 'r1', ...(libp2pDoor === undefined ? {} : { libp2pDoor }) }, whoami)
  const r2 = await started({ name: 'r2', bootstrap: [r1.multiaddrs[0]!], ...(libp2pDoor === undefined ? {} : { libp2pDoor }) }, whoami)
  const entry = await started({ name: 'entry', bootstrap: [r1.multiaddrs[0]!] })
  await entry.waitForTool('local__whoami', { timeoutMs: 30_000 })
  // Both replicas in the entry's pool before the load starts.
  for (let i = 0; i < 600 && poolOf(entry).length < 2; i++) await new Promise((resolve) => setTimeout(resolve, 50))
  expect(poolOf(entry)).toHaveLength(2)
  return { entry, replicas: [r1, r2] }
}

/** Route sessions the entry holds open to the replicas (its pool's count, over every scope). */
const routeSessions = (entry: McpNode): number => poolOf(entry).reduce((n, e) => n + e.sessions, 0)

describe('route sessions shared by downstream sessions', () => {
  it('600 downstream sessions on one entry peer all call a two-replica server; the replicas see a handful of route sessions and both serve', async () => {
    const { entry, replicas } = await twoReplicas()
    const clients: Client[] = []
    for (let i = 0; i < 600; i++) clients.push(await entry.connectClient())
    const served = new Map<string, number>()
    const failures: unknown[] = []
    await Promise.all(clients.map(async (c) => {
      try {
        const r = await c.callTool({ name: 'local__whoami', arguments: {} })
        const who = (r.content as Array<{ text: string }>)[0]!.text
        served.set(who, (served.get(who) ?? 0) + 1)
      } catch (err) { failures.push(err) }
    }))
    expect(failures).toEqual([])
    expect([...served.keys()].sort()).toEqual(replicas.map((r) => r.peerId).sort())
    // Per replica, the pool's own route session (health checks) and the shared one: not one per downstream session.
    expect(routeSessions(entry)).toBeLessThanOrEqual(4)
    for (const e of poolOf(entry)) expect(e.breaker).toBe('closed')
    await Promise.all(clients.map(async (c) => { await c.close() }))
  })

  it('a session whose client takes roots keeps a route session of its own', async () => {
    const { entry } = await twoReplicas()
    const plain = await entry.connectClient()
    await plain.callTool({ name: 'local__whoami', arguments: {} })
    const before = routeSessions(entry)
    const withRoots = await entry.connectClient({ capabilities: { roots: { listChanged: true } } })
    await withRoots.callTool({ name: 'local__whoami', arguments: {} })
    expect(routeSessions(entry)).toBe(before + 1)
    await withRoots.close()
    await plain.close()
  })

  it('replicas at their per-peer limit refuse with a typed -32029; no breaker counts it and shared sessions keep calling both', async () => {
    // Three sessions per peer: the entry's pool (health checks) and its shared route session hold two on each replica.
    const { entry, replicas } = await twoReplicas({ maxSessionsPerPeer: 3 })
    const seen = new Set<string>()
    const shared = await entry.connectClient()
    const callBoth = async (): Promise<void> => {
      seen.clear()
      // Until both answered (bounded in time, not in calls: a replica whose shared route session
      // is still opening is passed over meanwhile; 200 back-to-back calls once all went to one).
      for (const until = Date.now() + 30_000; seen.size < 2 && Date.now() < until;) {
        const r = await shared.callTool({ name: 'local__whoami', arguments: {} })
        seen.add((r.content as Array<{ text: string }>)[0]!.text)
        if (seen.size < 2) await new Promise((resolve) => setTimeout(resolve, 20))
      }
      expect([...seen].sort()).toEqual(replicas.map((r) => r.peerId).sort())
    }
    await callBoth()
    const own: Client[] = []
    const refusals: unknown[] = []
    let admitted = 0
    for (let i = 0; i < 6; i++) {
      const c = await entry.connectClient({ capabilities: { roots: {} } })
      own.push(c)
      await c.callTool({ name: 'local__whoami', arguments: {} }).then(() => { admitted++ }, (err: unknown) => { refusals.push(err) })
    }
    expect(admitted).toBe(2)
    expect(refusals).toHaveLength(4)
    for (const err of refusals) {
      expect(err).toMatchObject({ code: -32029, data: { name: 'SessionLimitError', limit: 'maxSessionsPerPeer' } })
      expect((err as Error).message.match(/MCP error/g)).toHaveLength(1)
    }
    // Neither replica is held responsible: both stay healthy with closed breakers and no failure,
    // and the sessions that share route sessions keep calling.
    for (const e of poolOf(entry)) expect(e).toMatchObject({ state: 'healthy', breaker: 'closed', failures: 0 })
    for (let i = 0; i < 20; i++) expect((await shared.callTool({ name: 'local__whoami', arguments: {} })).isError).not.toBe(true)
    await Promise.all([...own, shared].map(async (c) => { await c.close() }))
  })
})
