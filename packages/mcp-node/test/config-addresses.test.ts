// Issue 17, item 7: multiaddrs, the ports inside them and peer ids are checked by the config
// schema (a bad bootstrap peer id used to crash the peer after it printed `ready`), and a
// `dataDir` under a file is refused naming the field.
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { createMcpNode, parseConfig } from '../src/index.js'

const dir = await mkdtemp(join(tmpdir(), 'mcp-node-addr-'))
afterAll(async () => { await rm(dir, { recursive: true, force: true }) })

const PEER = '12D3KooWQJNbRmHZXPXH5zQDVaYJ2ceQJSWjwR6CTMhDPkLa1kNo'

describe('config: addresses and peer ids', () => {
  it('a bootstrap address whose peer id is not a peer id is refused, naming the entry', () => {
    expect(() => parseConfig({ bootstrap: ['/ip4/127.0.0.1/tcp/4001/p2p/not-a-peer-id'] })).toThrow(/bootstrap\.0: .*peer id/)
    expect(() => parseConfig({ bootstrap: ['/ip4/127.0.0.1/tcp/4001'] })).toThrow(/bootstrap\.0: .*\/p2p\//)
    expect(parseConfig({ bootstrap: [`/ip4/127.0.0.1/tcp/4001/p2p/${PEER}`] }).bootstrap).toHaveLength(1)
  })

  it('multiaddrs are parsed, and their ports checked', () => {
    expect(() => parseConfig({ listen: ['/ip4/127.0.0.1/tcp/99999'] })).toThrow(/listen\.0: .*65535/)
    expect(() => parseConfig({ listen: ['/ip4/127.0.0.1/tcp/-1'] })).toThrow(/listen\.0/)
    expect(() => parseConfig({ listen: ['/ip4/300.0.0.1/tcp/1'] })).toThrow(/listen\.0: .*multiaddr/)
    expect(() => parseConfig({ listen: ['/nonsense'] })).toThrow(/listen\.0: .*multiaddr/)
    expect(() => parseConfig({ bootstrap: [`/ip4/127.0.0.1/tcp/70000/p2p/${PEER}`] })).toThrow(/bootstrap\.0: .*65535/)
    expect(parseConfig({ listen: ['/ip4/127.0.0.1/tcp/0', '/ip6/::1/tcp/65535'] }).listen).toHaveLength(2)
  })

  it('allowPeers entries must be peer ids', () => {
    expect(() => parseConfig({ allowPeers: [PEER, 'bob'] })).toThrow(/allowPeers\.1: .*peer id/)
  })

  it('a dataDir under a file is refused at start, naming the field', async () => {
    const file = join(dir, 'a-file')
    await writeFile(file, 'x')
    const node = createMcpNode({ dataDir: join(file, 'id'), http: { enabled: false } })
    const err = await node.start().then(() => undefined, (e: unknown) => e)
    await node.stop().catch(() => {})
    expect(err).toMatchObject({ name: 'ConfigError', field: 'dataDir' })
    expect((err as Error).message).toMatch(/not a directory/)
  })
})
