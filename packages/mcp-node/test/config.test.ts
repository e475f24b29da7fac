import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { createMcpNode, loadConfigFile, parseConfig } from '../src/index.js'

const dir = await mkdtemp(join(tmpdir(), 'mcp-node-config-'))
afterAll(async () => { await rm(dir, { recursive: true, force: true }) })

describe('config', () => {
  it('fills defaults: private, loopback, HTTP on 127.0.0.1', () => {
    const c = parseConfig({})
    expect(c.listen).toEqual(['/ip4/127.0.0.1/tcp/0'])
    expect(c.open).toBe(false)
    expect(c.http).toMatchObject({ enabled: true, host: '127.0.0.1', port: 0 })
    // the options that the user-facing messages name exist here
    expect(c.retry).toEqual({ maxAttempts: 3, budgetPercent: 20 })
    expect(c.health).toEqual({ requirePeers: false })
    expect(c.stdioWaitMs).toBe(15_000)
    expect(() => parseConfig({ retry: { maxAttempts: 0 } })).toThrow(/retry\.maxAttempts/)
  })

  it('names the wrong field and the expected value', () => {
    expect(() => parseConfig({ upstreams: [{ name: 'calc', type: 'stdio', command: 42 }] }))
      .toThrow(/upstreams\.0\.command: .*expected string/)
    expect(() => parseConfig({ http: { port: 70000 } })).toThrow(/http\.port/)
    expect(() => parseConfig({ bogus: 1 })).toThrow(/ConfigError|bogus/)
    expect(() => parseConfig({ upstreams: [{ name: 'a', type: 'http', url: 'http://x/mcp' }, { name: 'a', type: 'http', url: 'http://y/mcp' }] }))
      .toThrow(/upstreams\.1\.name/)
    expect(() => parseConfig({ controlPlane: { voters: ['not-a-peer-id'] } })).toThrow(/controlPlane\.voters\.0: a peer id/)
    expect(() => parseConfig({ controlPlane: { maxVoters: 0 } })).toThrow(/controlPlane\.maxVoters/)
    expect(parseConfig({}).controlPlane).toMatchObject({ enabled: true, maxVoters: 5, maxLearners: 4, stabilizationMs: 10_000, deadVoterMs: 30_000 })
  })

  it('reads YAML and JSON files', async () => {
    const yaml = join(dir, 'peer.yaml')
    await writeFile(yaml, 'listen: ["/ip4/127.0.0.1/tcp/0"]\nupstreams:\n  - name: calc\n    type: stdio\n    command: node\n    args: [server.mjs]\n')
    expect((await loadConfigFile(yaml)).upstreams[0]).toMatchObject({ name: 'calc', command: 'node', args: ['server.mjs'] })
    const json = join(dir, 'peer.json')
    await writeFile(json, JSON.stringify({ pageSize: 5 }))
    expect((await loadConfigFile(json)).pageSize).toBe(5)
    const bad = join(dir, 'bad.yaml')
    await writeFile(bad, 'pageSize: lots\n')
    await expect(loadConfigFile(bad)).rejects.toMatchObject({ name: 'ConfigError', field: 'pageSize' })
  })

  it('refuses to listen beyond loopback without psk, allow-list or open: true', () => {
    expect(() => createMcpNode({ listen: ['/ip4/0.0.0.0/tcp/4001'] })).toThrow(/listen: .*psk.*allowPeers.*open: true/)
    expect(() => createMcpNode({ listen: ['/ip4/0.0.0.0/tcp/4001'], open: true })).not.toThrow()
    expect(() => createMcpNode({ http: { host: '0.0.0.0' } })).toThrow(/http\.host/)
  })
})
