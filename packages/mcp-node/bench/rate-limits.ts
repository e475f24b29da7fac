/**
 * Issue 19, the rate-limit load test: three `p2p-mcp start` peer processes on 127.0.0.1 (each
 * hosting examples/calc-server), a replicated policy with per-principal limits set by an admin
 * through `mesh__policy_set`, and closed-loop HTTP clients calling `calc__add` as fast as the
 * peers answer.
 *   one peer   WORKERS clients as `token:solo` at peer A only, for SECONDS: admitted rate
 *              against the limit (RPM per minute, burst BURST)
 *   mesh-wide  WORKERS clients as `token:load` at each of A, B and C at once, for SECONDS:
 *              admitted rate over the three peers against the same limit, and each peer's
 *              share (decision 0181: usage gossiped every SHARE_MS on p2p-mcp/limits/1)
 * Bounded in time and count; results on stdout.
 *
 *   node --import ../testkit/src/ts-hooks.ts bench/rate-limits.ts   (from packages/mcp-node)
 *   RPM=600 BURST=10 SECONDS=30 WORKERS=3 SHARE_MS=500 ...
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { loadavg, tmpdir } from 'node:os'
import { join } from 'node:path'
import { Client } from '@modelcontextprotocol/sdk/client/index.js'
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js'
import { calcServer, startPeer, until, type Peer } from '../test/integration/peers.js'

const RPM = Number(process.env.RPM ?? 600)
const BURST = Number(process.env.BURST ?? 10)
const SECONDS = Number(process.env.SECONDS ?? 30)
const WORKERS = Number(process.env.WORKERS ?? 3)
const SHARE_MS = Number(process.env.SHARE_MS ?? 500)

const token = (who: string): string => `${who}-token-0123456789abcdef`
const PRINCIPALS = ['admin', 'solo', 'load', 'probe']
const load = (): string => loadavg().map((x) => x.toFixed(1)).join(' ')

const clients: Client[] = []
async function connect (peer: Peer, who: string): Promise<Client> {
  const client = new Client({ name: 'rate-limits', version: '1.0.0' })
  await client.connect(new StreamableHTTPClientTransport(new URL(peer.http!), { requestInit: { headers: { authorization: `Bearer ${token(who)}` } } }))
  clients.push(client)
  return client
}

/** Calls calc__add in a closed loop until `until`; returns the times of admitted calls and the refusals. */
async function hammer (client: Client, end: number): Promise<{ admitted: number[], refused: number, failed: number }> {
  const admitted: number[] = []
  let refused = 0
  let failed = 0
  while (Date.now() < end) {
    try {
      await client.callTool({ name: 'calc__add', arguments: { a: 1, b: 2 } })
      admitted.push(Date.now())
    } catch (err) {
      if ((err as { code?: number }).code === -32029) refused++
      else failed++
    }
  }
  return { admitted, refused, failed }
}

const dir = await mkdtemp(join(tmpdir(), 'rate-limits-'))
const peers: Peer[] = []
try {
  const common = {
    heartbeatIntervalMs: 500,
    logLevel: 'warn',
    limits: { shareIntervalMs: SHARE_MS },
    http: { tokens: PRINCIPALS.map((p) => ({ token: token(p), subject: p })) },
    upstreams: [{ name: 'calc', type: 'stdio', command: process.execPath, args: [calcServer] }],
  }
  const a = await startPeer(dir, 'A', { ...common, name: 'A', dataDir: join(dir, 'a'), controlPlane: { admins: ['token:admin'] } })
  peers.push(a)
  peers.push(...await Promise.all(['B', 'C'].map(async (n) => await startPeer(dir, n, { ...common, name: n, dataDir: join(dir, n.toLowerCase()), bootstrap: [a.multiaddrs[0]] }))))
  const admin = await connect(a, 'admin')
  const limit = { requestsPerMinute: RPM, burst: BURST }
  await until('the admin sets the replicated policy', async () => {
    const r = await admin.callTool({ name: 'mesh__policy_set', arguments: { policy: { default: 'allow', rules: [], limits: [{ principal: 'token:solo', ...limit }, { principal: 'token:load', ...limit }, { principal: 'token:probe', requestsPerMinute: 1, burst: 1 }] } } })
    return r.isError === true ? undefined : r
  }, 60_000, 500)
  // Installed at a peer once its second probe call is refused by the replicated limit.
  for (const p of peers) {
    const probe = await connect(p, 'probe')
    await until(`calc__add at ${p.name}`, async () => (await probe.listTools()).tools.some((t) => t.name === 'calc__add') ? true : undefined, 60_000, 250)
    await until(`the replicated limits at ${p.name}`, async () => {
      try { await probe.callTool({ name: 'calc__add', arguments: { a: 1, b: 1 } }) } catch (err) {
        if ((err as { message?: string }).message?.includes('replicated policy') === true) return true
      }
      return undefined
    }, 60_000, 250)
  }
  console.log(`3 peer processes ready; limit ${RPM}/min burst ${BURST}; ${WORKERS} workers per peer; ${SECONDS} s per phase; share interval ${SHARE_MS} ms; load average ${load()}`)

  const report = (name: string, results: Array<{ peer: string, admitted: number[], refused: number, failed: number }>, seconds: number, started: number): void => {
    const admitted = results.flatMap((r) => r.admitted).sort((x, y) => x - y)
    const total = admitted.length
    const expected = BURST + RPM * seconds / 60
    const steady = admitted.filter((t) => t >= started + 10_000)
    const steadyRate = steady.length / ((seconds - 10) / 60)
    console.log(`${name}: admitted ${total} in ${seconds} s (${(total / seconds * 60).toFixed(1)}/min); expected ≤ burst + rate × time = ${expected.toFixed(0)}; error ${((total - expected) / expected * 100).toFixed(1)} %`)
    console.log(`  steady state (after the first 10 s): ${steadyRate.toFixed(1)}/min against ${RPM}/min: ${((steadyRate - RPM) / RPM * 100).toFixed(1)} %`)
    for (const r of results) console.log(`  ${r.peer}: admitted ${r.admitted.length}, refused ${r.refused}, other failures ${r.failed}`)
    console.log(`  load average ${load()}`)
  }

  // One peer.
  {
    const solo = await Promise.all(Array.from({ length: WORKERS }, async () => await connect(a, 'solo')))
    const started = Date.now()
    const end = started + SECONDS * 1000
    const results = await Promise.all(solo.map(async (c) => await hammer(c, end)))
    const merged = { peer: 'A', admitted: results.flatMap((r) => r.admitted), refused: results.reduce((n, r) => n + r.refused, 0), failed: results.reduce((n, r) => n + r.failed, 0) }
    report('one peer (token:solo at A)', [merged], SECONDS, started)
  }

  // Three peers, one principal.
  {
    const byPeer = await Promise.all(peers.map(async (p) => ({ peer: p.name, clients: await Promise.all(Array.from({ length: WORKERS }, async () => await connect(p, 'load'))) })))
    const started = Date.now()
    const end = started + SECONDS * 1000
    const results = await Promise.all(byPeer.map(async ({ peer, clients: cs }) => {
      const rs = await Promise.all(cs.map(async (c) => await hammer(c, end)))
      return { peer, admitted: rs.flatMap((r) => r.admitted), refused: rs.reduce((n, r) => n + r.refused, 0), failed: rs.reduce((n, r) => n + r.failed, 0) }
    }))
    report('mesh-wide (token:load at A, B and C)', results, SECONDS, started)
    const bound = 2 * (BURST + RPM * (SHARE_MS + 1_000) / 60_000)
    console.log(`  documented bound on the overshoot after traffic moves: (N - 1) × (burst + rate × (share interval + 1 s)) = ${bound.toFixed(0)} requests`)
  }
} finally {
  await Promise.allSettled(clients.map(async (c) => { await c.close() }))
  await Promise.allSettled(peers.map(async (p) => { await p.kill('SIGTERM') }))
  await rm(dir, { recursive: true, force: true })
}
