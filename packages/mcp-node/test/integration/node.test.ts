// One node in this process: identity kept in the data dir, a crashing stdio upstream restarted
// with backoff while the rest of the session keeps working, honest health while it is down.
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { ToolListChangedNotificationSchema } from '@modelcontextprotocol/sdk/types.js'
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { z } from 'zod'
import { createMcpNode, type McpNode } from '../../src/index.js'
import { calcServer, until } from './peers.js'

let dir: string
const nodes: McpNode[] = []

beforeAll(async () => { dir = await mkdtemp(join(tmpdir(), 'mcp-node-one-')) })
afterAll(async () => {
  await Promise.allSettled(nodes.map(async (n) => { await n.stop({ graceMs: 1_000 }) }))
  await rm(dir, { recursive: true, force: true })
})

describe('a single node', () => {
  it('keeps its peer id across restarts in the same data dir', async () => {
    const first = createMcpNode({ dataDir: join(dir, 'id'), http: { enabled: false } })
    await first.start()
    const id = first.peerId
    await first.stop()
    const second = createMcpNode({ dataDir: join(dir, 'id'), http: { enabled: false } })
    nodes.push(second)
    await second.start()
    expect(second.peerId).toBe(id)
    await second.stop()
  })

  it('restarts a crashed stdio upstream with backoff; its tools leave and return, the rest keep working', async () => {
    const node = createMcpNode({ heartbeatIntervalMs: 300, upstreams: [{ name: 'calc', type: 'stdio', command: process.execPath, args: [calcServer] }] })
    nodes.push(node)
    const echo = ({ text }: { text: string }): Promise<CallToolResult> => Promise.resolve({ content: [{ type: 'text', text }] })
    node.registerTool('echo', { inputSchema: { text: z.string() } }, echo)
    await node.start()
    await node.waitForTool('calc__whoami', { timeoutMs: 20_000 })
    await node.waitForTool('local__echo', { timeoutMs: 20_000 })
    const client = await node.connectClient()
    let changes = 0
    client.setNotificationHandler(ToolListChangedNotificationSchema, () => { changes++ })
    const who = await client.callTool({ name: 'calc__whoami', arguments: {} })
    const pid = (who.structuredContent as { pid: number }).pid
    process.kill(pid, 'SIGKILL')

    await until('calc tools gone', async () => ((await client.listTools()).tools.some((t) => t.name.startsWith('calc__')) ? undefined : true), 15_000)
    expect(changes).toBeGreaterThanOrEqual(1)
    const health = node.health()
    expect(health.status).toBe('degraded')
    expect(health.reasons.join('\n')).toMatch(/upstream calc is (restarting|starting)/)
    // the same session still works for the rest of the mesh
    expect(await client.callTool({ name: 'local__echo', arguments: { text: 'still here' } })).toMatchObject({ content: [{ type: 'text', text: 'still here' }] })

    await until('calc back', async () => ((await client.listTools()).tools.some((t) => t.name === 'calc__whoami') ? true : undefined), 20_000)
    const again = await client.callTool({ name: 'calc__whoami', arguments: {} })
    expect((again.structuredContent as { pid: number }).pid).not.toBe(pid)
    expect(node.upstreams.get('calc')?.restarts).toBeGreaterThanOrEqual(1)
    await client.close()
  })
})
