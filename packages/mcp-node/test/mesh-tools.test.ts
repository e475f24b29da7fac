import { describe, expect, it } from 'vitest'
import { parseConfig } from '../src/config.js'
import { MeshTools } from '../src/mesh-tools.js'
import type { BuiltinTool } from '../src/mesh-tools.js'

const tool = (name: string): BuiltinTool => ({
  tool: { name, inputSchema: { type: 'object' } },
  call: async () => await Promise.resolve({ content: [{ type: 'text', text: name }] }),
})

function tools (meshTools: Record<string, string[]>, ...names: string[]): MeshTools {
  const t = new MeshTools(parseConfig({ meshTools }).meshTools)
  t.add({ name: 'test', tools: names.map(tool) })
  return t
}

describe('MeshTools', () => {
  it('lists every built-in tool on every door by default', () => {
    const t = tools({}, 'mesh__status', 'mesh__join')
    for (const door of ['stdio', 'http', 'libp2p', 'memory', 'local'] as const) {
      expect(t.list(door).map((x) => x.name)).toEqual(['mesh__status', 'mesh__join'])
    }
  })

  it('lists (and lets call) per front door what meshTools says; memory follows libp2p', async () => {
    const t = tools({ stdio: ['mesh__status'], http: [], libp2p: ['mesh__j*'] }, 'mesh__status', 'mesh__join')
    expect(t.list('stdio').map((x) => x.name)).toEqual(['mesh__status'])
    expect(t.list('http')).toEqual([])
    expect(t.list('memory').map((x) => x.name)).toEqual(['mesh__join'])
    expect(t.listedOn('http', 'mesh__status')).toBe(false)
    expect(t.listedOn('stdio', 'mesh__status')).toBe(true)
    expect(t.listedOn('stdio', 'mesh__nope')).toBe(false)
    const signal = new AbortController().signal
    expect(await t.call('mesh__join', {}, { principal: 'p', signal })).toEqual({ content: [{ type: 'text', text: 'mesh__join' }] })
    await expect(t.call('mesh__nope', {}, { principal: 'p', signal })).rejects.toThrowError(/unknown tool "mesh__nope"/)
  })

  it('refuses a module tool outside mesh__ and a name taken twice', () => {
    const t = new MeshTools(parseConfig({}).meshTools)
    expect(() => { t.add({ name: 'bad', tools: [tool('status')] }) }).toThrowError(/must be named mesh__<name>/)
    t.add({ name: 'a', tools: [tool('mesh__x')] })
    expect(() => { t.add({ name: 'b', tools: [tool('mesh__x')] }) }).toThrowError(/already defined/)
  })

  it('a bad meshTools value is a ConfigError naming the field', () => {
    expect(() => parseConfig({ meshTools: { stdio: 'mesh__status' } })).toThrowError(expect.objectContaining({ name: 'ConfigError', field: 'meshTools.stdio' }) as Error)
  })
})
