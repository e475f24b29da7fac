// The CLI: bad configuration, honest health when bootstrap peers are down, the stdio front door.
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { Client } from '@modelcontextprotocol/sdk/client/index.js'
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js'
import { calcServer, cli, hooks, runCli, startPeer, until, type Peer } from './peers.js'

let dir: string
const peers: Peer[] = []

beforeAll(async () => { dir = await mkdtemp(join(tmpdir(), 'mcp-node-ops-')) })
afterAll(async () => {
  await Promise.allSettled(peers.map(async (p) => { await p.kill('SIGTERM') }))
  await rm(dir, { recursive: true, force: true })
})

describe('p2p-mcp CLI', () => {
  it('exits 2 on a bad config file, naming the field and the expected value', async () => {
    const file = join(dir, 'bad.yaml')
    await writeFile(file, 'upstreams:\n  - name: calc\n    type: stdio\n    command: 42\n')
    const r = await runCli(['start', '-c', file])
    expect(r.code).toBe(2)
    expect(r.stderr).toMatch(/upstreams\.0\.command: .*expected string/)
    const open = join(dir, 'open.json')
    await writeFile(open, JSON.stringify({ listen: ['/ip4/0.0.0.0/tcp/0'] }))
    const r2 = await runCli(['start', '-c', open])
    expect(r2.code).toBe(2)
    expect(r2.stderr).toMatch(/listen: .*psk/)
    const missing = await runCli(['start', '-c', join(dir, 'nope.yaml')])
    expect(missing.code).toBe(2)
    expect(missing.stderr).toMatch(/cannot read/)
  })

  it('keeps retrying unreachable bootstrap peers and reports degraded health with the reason', async () => {
    const ghost = peerIdFromPrivateKey(await generateKeyPair('Ed25519')).toString()
    const peer = await startPeer(dir, 'lonely', { bootstrap: [`/ip4/127.0.0.1/tcp/9/p2p/${ghost}`], logLevel: 'warn' })
    peers.push(peer)
    const healthz = peer.http!.replace(/\/mcp$/, '/healthz')
    const first = await until('a failed bootstrap attempt', async () => {
      const res = await fetch(healthz)
      const body = await res.json() as { status: string, reasons: string[], bootstrap: Array<{ attempts: number }> }
      return (body.bootstrap[0]?.attempts ?? 0) >= 1 ? { status: res.status, body } : undefined
    })
    expect(first.status).toBe(503)
    expect(first.body.status).toBe('degraded')
    expect(first.body.reasons).toEqual(expect.arrayContaining([
      expect.stringMatching(/^no tools served/) as string,
      expect.stringMatching(/bootstrap peer .* unreachable after \d+ attempts \(retrying\)/) as string,
    ]))
    // still retrying
    await until('a second bootstrap attempt', async () => {
      const body = await (await fetch(healthz)).json() as { bootstrap: Array<{ attempts: number }> }
      return (body.bootstrap[0]?.attempts ?? 0) >= 2 ? true : undefined
    }, 10_000)
    const status = await runCli(['status', '--url', peer.http!])
    expect(status.code).toBe(0)
    expect(JSON.parse(status.stdout)).toMatchObject({ peerId: peer.peerId, health: { status: 'degraded' } })
    const metrics = await (await fetch(peer.http!.replace(/\/mcp$/, '/metrics'))).text()
    expect(metrics).toMatch(/p2p_mcp_peers 0/)
  })

  it('serves the mesh on stdio to a desktop-style client (principal local)', async () => {
    const host = await startPeer(dir, 'host', { logLevel: 'warn', http: { enabled: false }, upstreams: [{ name: 'calc', type: 'stdio', command: process.execPath, args: [calcServer] }] })
    peers.push(host)
    const file = join(dir, 'stdio.json')
    await writeFile(file, JSON.stringify({ stdio: true, http: { enabled: false }, bootstrap: [host.multiaddrs[0]], logLevel: 'warn', policy: { rules: [{ principal: 'local', deny: ['calc__multiply'] }] } }))
    const client = new Client({ name: 'desktop', version: '1.0.0' })
    await client.connect(new StdioClientTransport({ command: process.execPath, args: ['--import', hooks, cli, 'start', '-c', file], stderr: 'ignore' }))
    try {
      // A desktop client lists tools once: the first answer already has the mesh's tools.
      const names = (await client.listTools()).tools.map((t) => t.name)
      expect(names).toContain('calc__add')
      expect(names).not.toContain('calc__multiply')
      expect((await client.callTool({ name: 'calc__add', arguments: { a: 1, b: 2 } })).structuredContent).toEqual({ sum: 3 })
    } finally {
      await client.close()
    }
  })
})

describe('p2p-mcp CLI: addresses (issue 17, item 7)', () => {
  it('exits 2 naming the field for a bad bootstrap peer id and for a dataDir under a file (it used to crash after `ready`)', async () => {
    const bad = join(dir, 'bad-bootstrap.json')
    await writeFile(bad, JSON.stringify({ bootstrap: ['/ip4/127.0.0.1/tcp/9/p2p/not-a-peer-id'], http: { enabled: false } }))
    const r = await runCli(['start', '-c', bad])
    expect(r.code).toBe(2)
    expect(r.stderr).toMatch(/bootstrap\.0: .*peer id/)
    expect(r.stdout).not.toMatch(/"ready"/)
    const file = join(dir, 'plain-file')
    await writeFile(file, 'x')
    const under = join(dir, 'under-file.json')
    await writeFile(under, JSON.stringify({ dataDir: join(file, 'data'), http: { enabled: false } }))
    const r2 = await runCli(['start', '-c', under])
    expect(r2.code).toBe(2)
    expect(r2.stderr).toMatch(/dataDir: /)
  })
})
