// The control plane end to end: three `p2p-mcp start` processes on 127.0.0.1 form a Raft group
// with nothing but bootstrap addresses; a policy change made at A is enforced at C; a peer left
// without a quorum refuses writes with NoQuorumError and keeps serving tool calls.
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Client } from '@modelcontextprotocol/sdk/client/index.js'
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { calcServer, runCli, startPeer, until, type Peer } from './peers.js'

const ALICE = 'alice-token-0123456789abcdef'
const BOB = 'bob-token-0123456789abcdefgh'
let dir: string
const peers: Record<string, Peer> = {}
const clients: Client[] = []

const calc = (replica: string): Record<string, unknown> => ({ name: 'calc', type: 'stdio', command: process.execPath, args: [calcServer], env: { REPLICA_ID: replica } })
const http = { tokens: [{ token: ALICE, subject: 'alice' }, { token: BOB, subject: 'bob' }] }
const fast = { stabilizationMs: 2_000, deadVoterMs: 60_000, tickIntervalMs: 500, timeoutMs: 3_000 }

function config (name: string, bootstrap: string[]): Record<string, unknown> {
  return {
    name, dataDir: join(dir, name), bootstrap, heartbeatIntervalMs: 500, logLevel: 'info', http, upstreams: [calc(name)],
    controlPlane: { ...fast, admins: ['alice'] },
  }
}

async function connect (peer: Peer, token: string): Promise<Client> {
  const client = new Client({ name: 'control-e2e', version: '1.0.0' })
  await client.connect(new StreamableHTTPClientTransport(new URL(peer.http!), { requestInit: { headers: { authorization: `Bearer ${token}` } } }))
  clients.push(client)
  return client
}

async function status (client: Client): Promise<{ voters: string[], learners: string[], leader: string, cluster: string, policyVersion: number }> {
  const r = await client.callTool({ name: 'mesh__control_status', arguments: {} })
  return r.structuredContent as never
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'mcp-node-control-'))
  peers.A = await startPeer(dir, 'A', config('A', []))
  const boot = [peers.A.multiaddrs[0]!]
  ;[peers.B, peers.C] = await Promise.all([startPeer(dir, 'B', config('B', boot)), startPeer(dir, 'C', config('C', boot))])
})

afterAll(async () => {
  await Promise.allSettled(clients.map(async (cl) => { await cl.close() }))
  await Promise.allSettled(Object.values(peers).map(async (p) => { await p.kill('SIGTERM') }))
  await rm(dir, { recursive: true, force: true })
})

describe('control plane across processes', { timeout: 150_000 }, () => {
  it('three peers with only bootstrap addresses form one group of 3 voters', async () => {
    const a = await connect(peers.A!, ALICE)
    const s = await until('3 voters', async () => { const x = await status(a); return x.voters.length === 3 ? x : undefined }, 30_000)
    expect(new Set(s.voters)).toEqual(new Set([peers.A!.peerId, peers.B!.peerId, peers.C!.peerId]))
    const c = await connect(peers.C!, ALICE)
    expect((await status(c)).cluster).toBe(s.cluster)
    const res = await c.readResource({ uri: 'mesh://control' })
    const text = (res.contents[0] as { text: string }).text
    expect(JSON.parse(text)).toMatchObject({ cluster: s.cluster, phase: 'member' })
    const metrics = await (await fetch(peers.A!.http!.replace(/\/mcp$/, '/metrics'), { headers: { authorization: `Bearer ${ALICE}` } })).text()
    expect(metrics).toMatch(/p2p_mcp_control_is_leader 1/)
    expect(metrics).toMatch(/p2p_mcp_control_fsync_duration_seconds_count [1-9]/)
    expect(metrics).toMatch(/p2p_mcp_control_commit_lag\{member="[^"]+"\} \d+/)
  })

  it('a policy change through mesh__policy_set at A is enforced on tools/call at C within 1 s; only admins may change it', async () => {
    const a = await connect(peers.A!, ALICE)
    const bobAtC = await connect(peers.C!, BOB)
    await until('calc at C', async () => ((await bobAtC.listTools()).tools.some((t) => t.name === 'calc__add') ? true : undefined), 30_000)
    expect((await bobAtC.callTool({ name: 'calc__add', arguments: { a: 1, b: 2 } })).isError).not.toBe(true)
    const bobAtA = await connect(peers.A!, BOB)
    const refused = await bobAtA.callTool({ name: 'mesh__policy_set', arguments: { policy: { default: 'allow', rules: [] } } })
    expect(refused.isError).toBe(true)
    expect(JSON.stringify(refused.content)).toMatch(/NotAdminError/)
    const set = await a.callTool({ name: 'mesh__policy_set', arguments: { policy: { default: 'allow', rules: [{ principal: 'bob', deny: ['calc__add'] }] } } })
    expect(set.isError, JSON.stringify(set.content)).not.toBe(true)
    const changedAt = Date.now()
    const refusedAt = await until('bob refused at C', async () => {
      try { await bobAtC.callTool({ name: 'calc__add', arguments: { a: 1, b: 2 } }); return undefined } catch (err) { return (err as Error).message.includes('not allowed') ? Date.now() : undefined }
    }, 10_000, 20)
    process.stdout.write(`policy change at A enforced at C after ${refusedAt - changedAt} ms\n`)
    expect(refusedAt - changedAt).toBeLessThan(1_000)
    // other tools stay allowed
    expect((await bobAtC.callTool({ name: 'calc__multiply', arguments: { a: 2, b: 3 } })).isError).not.toBe(true)
  })

  it('a peer without a quorum refuses writes with NoQuorumError and keeps serving tool calls; the others catch it up when back', async () => {
    const a = await connect(peers.A!, ALICE)
    await Promise.all([peers.B!.kill('SIGKILL'), peers.C!.kill('SIGKILL')])
    const w = await a.callTool({ name: 'mesh__policy_set', arguments: { policy: { default: 'allow', rules: [] } } })
    expect(w.isError).toBe(true)
    expect(JSON.stringify(w.content)).toMatch(/NoQuorumError/)
    const call = await a.callTool({ name: 'calc__add', arguments: { a: 20, b: 22 } })
    expect(call.isError).not.toBe(true)
    expect(JSON.stringify(call.content)).toMatch(/42/)
    const boot = [peers.A!.multiaddrs[0]!]
    ;[peers.B, peers.C] = await Promise.all([startPeer(dir, 'B', config('B', boot)), startPeer(dir, 'C', config('C', boot))])
    await until('a write commits again', async () => {
      const r = await a.callTool({ name: 'mesh__policy_set', arguments: { policy: { default: 'allow', rules: [{ principal: 'bob', deny: ['calc__add'] }] } } })
      return r.isError === true ? undefined : r
    }, 30_000, 250)
  })

  it('restarting every peer keeps the group, its log and the policy (durable in each data dir)', async () => {
    const before = await status(await connect(peers.A!, ALICE))
    await Promise.all(Object.values(peers).map(async (p) => { await p.kill('SIGTERM') }))
    peers.A = await startPeer(dir, 'A', config('A', []))
    const boot = [peers.A.multiaddrs[0]!]
    ;[peers.B, peers.C] = await Promise.all([startPeer(dir, 'B', config('B', boot)), startPeer(dir, 'C', config('C', boot))])
    const a = await connect(peers.A, ALICE)
    const after = await until('a leader again', async () => { const x = await status(a); return x.leader !== '' && x.voters.length === 3 ? x : undefined }, 30_000)
    expect(after.cluster).toBe(before.cluster)
    expect(after.policyVersion).toBe(before.policyVersion)
    const bobAtC = await connect(peers.C, BOB)
    await until('calc at C', async () => ((await bobAtC.listTools()).tools.some((t) => t.name === 'calc__multiply') ? true : undefined), 30_000)
    await expect(bobAtC.callTool({ name: 'calc__add', arguments: { a: 1, b: 2 } })).rejects.toThrow(/not allowed/)
  })

  it('CLI: control status, policy get|set, control backup; force-new-cluster on a stopped peer after the others are lost for good', async () => {
    const url = peers.A!.http!
    const st = await runCli(['control', 'status', '--url', url, '--token', ALICE])
    expect(st.code, st.stderr).toBe(0)
    expect((JSON.parse(st.stdout) as { voters: string[] }).voters).toHaveLength(3)
    const denied = await runCli(['policy', 'get', '--url', url, '--token', BOB])
    expect(denied.code).toBe(1)
    expect(denied.stderr).toMatch(/NotAdminError/)
    const got = JSON.parse((await runCli(['policy', 'get', '--url', url, '--token', ALICE])).stdout) as { version: number }
    const set = await runCli(['policy', 'set', JSON.stringify({ default: 'allow', rules: [{ principal: 'bob', deny: ['calc__add', 'calc__multiply'] }] }), '--expect-version', String(got.version), '--url', url, '--token', ALICE])
    expect(set.code, set.stderr).toBe(0)
    const stale = await runCli(['policy', 'set', JSON.stringify({ default: 'allow', rules: [] }), '--expect-version', String(got.version), '--url', url, '--token', ALICE])
    expect(stale.code).toBe(1)
    expect(stale.stderr).toMatch(/VersionMismatchError/)
    const backupFile = join(dir, 'backup.json')
    const backup = await runCli(['control', 'backup', '--out', backupFile, '--url', url, '--token', ALICE])
    expect(backup.code, backup.stderr).toBe(0)
    // lose B and C for good, stop A, and recover A alone
    await Promise.all([peers.B!.kill('SIGKILL'), peers.C!.kill('SIGKILL')])
    await peers.A!.kill('SIGTERM')
    const forced = await runCli(['control', 'force-new-cluster', '-c', join(dir, 'A.json')])
    expect(forced.code, forced.stderr).toBe(0)
    peers.A = await startPeer(dir, 'A', config('A', []))
    const a = await connect(peers.A, ALICE)
    const s = await until('A leads alone', async () => { const x = await status(a); return x.leader === peers.A!.peerId ? x : undefined }, 30_000)
    expect(s.voters).toEqual([peers.A.peerId])
    expect(s.policyVersion).toBe(got.version + 1)
    const w = await a.callTool({ name: 'mesh__policy_set', arguments: { policy: { default: 'allow', rules: [] } } })
    expect(w.isError, JSON.stringify(w.content)).not.toBe(true)
  })
})
