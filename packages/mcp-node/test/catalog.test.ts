// The catalog's rebuild on provider events: a server's tools never disappear while a new
// definition of it loads, nor when that load fails (the glitch of a benchmark run where peer A
// briefly answered "unknown tool" right after it had listed the tool).
import type { Tool } from '@modelcontextprotocol/sdk/types.js'
import { schemaHash, type ProviderMatch, type ServerEntry } from '@p2p-mcp/dht-registry'
import { describe, expect, it } from 'vitest'
import { MeshCatalog, type ServerGroup } from '../src/catalog.js'
import { noopLogger } from '../src/logger.js'

const schema = { type: 'object', properties: { a: { type: 'number' } } } as const

async function entry (version: string, tools: string[]): Promise<ServerEntry> {
  const hash = await schemaHash(schema)
  return { name: 'calc', version, tools: tools.map((name) => ({ name, inputSchemaHash: hash })), resourceTemplates: [], prompts: [] }
}

function provider (peerId: string, servers: ServerEntry[]): ProviderMatch {
  return { peerId, source: 'gossip', descriptor: { servers } } as unknown as ProviderMatch
}

const tools = (names: string[]): Tool[] => names.map((name) => ({ name, inputSchema: schema }))

describe('MeshCatalog', () => {
  it('keeps serving a server\'s tools while a new definition loads, and when that load fails', async () => {
    const catalog = new MeshCatalog(noopLogger)
    const v1 = await entry('1.0.0', ['add'])
    await catalog.update([provider('B', [v1])], (g: ServerGroup) => { g.tools = tools(['add']); return Promise.resolve() })
    expect(catalog.tool('calc__add')?.server).toBe('calc')
    expect(catalog.pending).toBe(false)

    // B upgrades to 2.0.0 (another fingerprint); its definitions load slowly, then fail.
    const v2 = await entry('2.0.0', ['add', 'sub'])
    let fail!: (err: Error) => void
    let loading!: () => void
    const started = new Promise<void>((resolve) => { loading = resolve })
    const updating = catalog.update([provider('B', [v2])], () => { loading(); return new Promise<void>((_resolve, reject) => { fail = reject }) })
    await started
    // While it loads: the tool is there, and its server's group still has it under its original name.
    expect(catalog.tool('calc__add')).toBeDefined()
    expect(catalog.groups.get('calc')?.tools.map((t) => t.name)).toEqual(['add'])
    fail(new Error('the replica went away mid-listing'))
    const change = await updating
    expect(change.tools).toBe(false)
    expect(catalog.tool('calc__add')).toBeDefined()
    expect(catalog.groups.get('calc')?.providers).toEqual(['B'])
    expect(catalog.pending).toBe(true)

    // Tried again: the new definition is served.
    const next = await catalog.update([provider('B', [v2])], (g: ServerGroup) => { g.tools = tools(['add', 'sub']); return Promise.resolve() })
    expect(next.tools).toBe(true)
    expect(catalog.tool('calc__sub')).toBeDefined()
    expect(catalog.groups.get('calc')?.version).toBe('2.0.0')
    expect(catalog.pending).toBe(false)
  })

  it('drops a server at once when no provider announces it any more', async () => {
    const catalog = new MeshCatalog(noopLogger)
    await catalog.update([provider('B', [await entry('1.0.0', ['add'])])], (g: ServerGroup) => { g.tools = tools(['add']); return Promise.resolve() })
    const change = await catalog.update([provider('B', [])], () => Promise.reject(new Error('not called')))
    expect(change.tools).toBe(true)
    expect(catalog.tool('calc__add')).toBeUndefined()
    expect(catalog.groups.size).toBe(0)
    expect(catalog.pending).toBe(false)
  })
})
