// The built-in mesh tools as a client of one node sees them: listed per front door as
// `meshTools` says, then filtered by the policy for the session's principal.
import { afterAll, describe, expect, it } from 'vitest'
import { createMcpNode, type McpNode } from '../../src/index.js'

const nodes: McpNode[] = []
afterAll(async () => { await Promise.allSettled(nodes.map(async (n) => { await n.stop({ graceMs: 1_000 }) })) })

async function started (config: Parameters<typeof createMcpNode>[0]): Promise<McpNode> {
  const node = createMcpNode({ http: { enabled: false }, ...config })
  nodes.push(node)
  await node.start()
  return node
}

describe('built-in mesh tools', () => {
  it('a front door lists them unless meshTools hides them, and then they cannot be called there', async () => {
    const shown = await (await started({})).connectClient()
    expect((await shown.listTools()).tools.map((t) => t.name)).toContain('mesh__status')
    const status = await shown.callTool({ name: 'mesh__status', arguments: {} })
    expect((status.structuredContent as { peerId: string }).peerId).toMatch(/^12D3Koo/)

    const hidden = await (await started({ meshTools: { local: [] } })).connectClient()
    expect((await hidden.listTools()).tools.map((t) => t.name)).not.toContain('mesh__status')
    await expect(hidden.callTool({ name: 'mesh__status', arguments: {} })).rejects.toThrowError(/unknown tool "mesh__status"/)
    await shown.close()
    await hidden.close()
  })

  it('the policy filters them by principal on tools/list and refuses them on tools/call', async () => {
    const client = await (await started({ policy: { rules: [{ principal: 'local', deny: ['mesh__*'] }] } })).connectClient()
    expect((await client.listTools()).tools.map((t) => t.name)).not.toContain('mesh__status')
    const err = await client.callTool({ name: 'mesh__status', arguments: {} }).then(() => undefined, (e: unknown) => e as { code: number, data?: { name: string } })
    expect(err).toMatchObject({ code: -32003, data: { name: 'PolicyDeniedError' } })
    await client.close()
  })
})
