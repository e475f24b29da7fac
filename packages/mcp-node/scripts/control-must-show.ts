/* eslint-disable no-console -- a script that reports on stdout */
// The control plane's "must show" run with separate peer processes (too long for npm test):
//  1. five `p2p-mcp start` processes with nothing but bootstrap addresses form a group of
//     3 voters at once and 5 after the stabilisation period; a sixth joins as a learner;
//  2. a policy change made with mesh__policy_set at A is enforced on tools/call at E (time printed);
//  3. the leader is SIGKILLed under a steady stream of policy writes from four clients: time to a
//     new leader, and the history of writes and reads checked for linearizability
//     (@p2p-mcp/consensus/check), so no acknowledged write is lost;
//  4. the killed voter stays dead: after deadVoterMs the learner replaces it (5 voters again);
//  5. every peer is restarted: the group, its cluster id and the last policy are kept.
// Exits 1 on any failed check.
//   node --import ../testkit/src/ts-hooks.ts scripts/control-must-show.ts
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Client } from '@modelcontextprotocol/sdk/client/index.js'
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js'
import { checkLinearizability, kvModel, type KvOperation } from '@p2p-mcp/consensus/check'
import { calcServer, startPeer, until, type Peer } from '../test/integration/peers.js'

const ALICE = 'alice-token-0123456789abcdef'
const BOB = 'bob-token-0123456789abcdefgh'
const STABILIZATION_MS = 15_000
const DEAD_VOTER_MS = 8_000
const dir = await mkdtemp(join(tmpdir(), 'control-must-show-'))
const peers = new Map<string, Peer>()
const failures: string[] = []
const clients: Client[] = []

function check (ok: boolean, what: string): void {
  console.log(`${ok ? 'PASS' : 'FAIL'} ${what}`)
  if (!ok) failures.push(what)
}

function config (name: string, bootstrap: string[]): Record<string, unknown> {
  return {
    name, dataDir: join(dir, name), bootstrap, heartbeatIntervalMs: 1_000, logLevel: 'warn',
    http: { tokens: [{ token: ALICE, subject: 'alice' }, { token: BOB, subject: 'bob' }] },
    upstreams: [{ name: 'calc', type: 'stdio', command: process.execPath, args: [calcServer] }],
    controlPlane: { admins: ['alice'], stabilizationMs: STABILIZATION_MS, deadVoterMs: DEAD_VOTER_MS, tickIntervalMs: 500, timeoutMs: 3_000 },
  }
}

async function connect (peer: Peer, token = ALICE): Promise<Client> {
  const c = new Client({ name: 'must-show', version: '1' })
  await c.connect(new StreamableHTTPClientTransport(new URL(peer.http!), { requestInit: { headers: { authorization: `Bearer ${token}` } } }))
  clients.push(c)
  return c
}

interface Status { cluster: string, leader: string, term: number, voters: string[], learners: string[], policyVersion: number }
async function status (c: Client): Promise<Status> {
  return (await c.callTool({ name: 'mesh__control_status', arguments: {} })).structuredContent as Status
}

const policyOf = (marker: string): Record<string, unknown> => ({ default: 'allow', rules: [{ principal: marker, deny: ['none__*'] }] })

try {
  // 1. formation
  const t0 = performance.now()
  peers.set('A', await startPeer(dir, 'A', config('A', [])))
  const boot = [peers.get('A')!.multiaddrs[0]!]
  const started = await Promise.all(['B', 'C', 'D', 'E'].map(async (n) => await startPeer(dir, n, config(n, boot))))
  started.forEach((p) => peers.set(p.name, p))
  const tStarted = performance.now()
  const a = await connect(peers.get('A')!)
  await until('3 voters', async () => ((await status(a)).voters.length >= 3 ? true : undefined), 60_000, 50)
  const t3 = performance.now()
  await until('5 voters', async () => ((await status(a)).voters.length === 5 ? true : undefined), 90_000, 100)
  const t5 = performance.now()
  console.log(`formation: 5 processes started in ${Math.round(tStarted - t0)} ms; 3 voters ${Math.round(t3 - tStarted)} ms and 5 voters ${Math.round(t5 - tStarted)} ms after the last start`)
  check(t3 - tStarted < STABILIZATION_MS, '3 voters at once (before the stabilisation period)')
  check(t5 - tStarted >= STABILIZATION_MS, `5 voters only after the stabilisation period (${STABILIZATION_MS} ms)`)
  peers.set('F', await startPeer(dir, 'F', config('F', boot)))
  await until('F a learner', async () => ((await status(a)).learners.includes(peers.get('F')!.peerId) ? true : undefined), 30_000, 100)
  check(true, 'a sixth peer joins as a learner')

  // 2. policy change at A enforced at E
  const bobAtE = await connect(peers.get('E')!, BOB)
  await until('calc__add at E', async () => ((await bobAtE.listTools()).tools.some((t) => t.name === 'calc__add') ? true : undefined), 30_000)
  await a.callTool({ name: 'mesh__policy_set', arguments: { policy: { default: 'allow', rules: [{ principal: 'bob', deny: ['calc__add'] }] } } })
  const tSet = performance.now()
  const tRefused = await until('refused at E', async () => {
    try { await bobAtE.callTool({ name: 'calc__add', arguments: { a: 1, b: 1 } }); return undefined } catch (err) { return /not allowed/.test((err as Error).message) ? performance.now() : undefined }
  }, 10_000, 10)
  console.log(`policy change at A refused at E after ${Math.round(tRefused - tSet)} ms`)
  check(tRefused - tSet < 1_000, 'policy change at A enforced at E within 1 s')

  // 3. SIGKILL of the leader under policy writes
  const before = await status(a)
  const leaderName = [...peers].find(([, p]) => p.peerId === before.leader)![0]
  const writersAt = [...peers.keys()].filter((n) => n !== leaderName && n !== 'F').slice(0, 4)
  const history: KvOperation[] = []
  const clock = (): number => performance.now()
  let stop = false
  let acked = 0
  const writers = writersAt.map(async (name, w) => {
    const c = await connect(peers.get(name)!)
    for (let i = 0; !stop; i++) {
      const marker = `w${w}-${i}`
      const write = i % 4 !== 3
      const call = clock()
      try {
        const r = await c.callTool({ name: write ? 'mesh__policy_set' : 'mesh__policy_get', arguments: write ? { policy: policyOf(marker) } : {} }, undefined, { timeout: 10_000 })
        if (r.isError === true) {
          if (write) history.push({ client: w, input: { op: 'put', key: 'policy', value: marker }, call, output: undefined, return: Infinity })
          continue
        }
        if (write) { acked++; history.push({ client: w, input: { op: 'put', key: 'policy', value: marker }, call, output: {}, return: clock() }) } else {
          const p = r.structuredContent as { policy: { rules: Array<{ principal: string }> } }
          history.push({ client: w, input: { op: 'get', key: 'policy' }, call, output: { value: p.policy.rules[0]?.principal }, return: clock() })
        }
      } catch {
        if (write) history.push({ client: w, input: { op: 'put', key: 'policy', value: marker }, call, output: undefined, return: Infinity })
      }
    }
  })
  await new Promise((resolve) => setTimeout(resolve, 2_000))
  const observer = await connect(peers.get(writersAt[0]!)!)
  const tKill = performance.now()
  await peers.get(leaderName)!.kill('SIGKILL')
  const newLeader = await until('a new leader', async () => { const s = await status(observer); return s.leader !== '' && s.leader !== before.leader ? s : undefined }, 20_000, 20)
  const failoverMs = performance.now() - tKill
  console.log(`leader ${leaderName} SIGKILLed: new leader after ${Math.round(failoverMs)} ms (term ${before.term} → ${newLeader.term})`)
  check(failoverMs < 3_000, 'a new leader within 3 s')
  await new Promise((resolve) => setTimeout(resolve, 3_000))
  stop = true
  await Promise.all(writers)
  const final = (await observer.callTool({ name: 'mesh__policy_get', arguments: {} })).structuredContent as { policy: { rules: Array<{ principal: string }> } }
  history.push({ client: 'final', input: { op: 'get', key: 'policy' }, call: clock(), output: { value: final.policy.rules[0]?.principal }, return: clock() + 1 })
  const result = checkLinearizability(kvModel, history, { timeoutMs: 60_000 })
  console.log(`history: ${history.length} operations, ${acked} acknowledged writes; linearizable: ${String(result.ok)}`)
  check(result.ok === true, 'the history of policy writes and reads is linearizable (no acknowledged write lost)')

  // 4. the killed voter is replaced by the learner
  const f = peers.get('F')!.peerId
  const tDead = performance.now()
  const replaced = await until('F replaces the dead voter', async () => { const s = await status(observer); return s.voters.includes(f) && !s.voters.includes(before.leader) ? s : undefined }, DEAD_VOTER_MS + 30_000, 200)
  console.log(`dead voter replaced by the learner ${Math.round(performance.now() - tDead)} ms after the writes stopped (${Math.round(performance.now() - tKill)} ms after the kill); voters: ${replaced.voters.length}`)
  check(replaced.voters.length === 5, 'the group has 5 voters again, the learner among them')
  peers.delete(leaderName)

  // 5. restart every peer
  const last = await status(observer)
  await Promise.all([...peers.values()].map(async (p) => { await p.kill('SIGTERM') }))
  const names = [...peers.keys()]
  const first = await startPeer(dir, names[0]!, config(names[0]!, []))
  peers.set(names[0]!, first)
  const rest = await Promise.all(names.slice(1).map(async (n) => await startPeer(dir, n, config(n, [first.multiaddrs[0]!]))))
  rest.forEach((p) => peers.set(p.name, p))
  const c1 = await connect(first)
  const after = await until('a leader after the restart', async () => { const s = await status(c1); return s.leader !== '' && s.voters.length === 5 ? s : undefined }, 60_000, 100)
  check(after.cluster === last.cluster, 'same cluster id after restarting every peer')
  check(after.policyVersion >= last.policyVersion, `policy version kept (${last.policyVersion} → ${after.policyVersion})`)
  const got = (await c1.callTool({ name: 'mesh__policy_get', arguments: {} })).structuredContent as { policy: { rules: Array<{ principal: string }> } }
  check(got.policy.rules[0]?.principal === final.policy.rules[0]?.principal, 'the last acknowledged policy survives the restart')
} catch (err) {
  failures.push((err as Error).message)
  console.log(`FAIL ${(err as Error).message}`)
} finally {
  await Promise.allSettled(clients.map(async (c) => { await c.close() }))
  await Promise.allSettled([...peers.values()].map(async (p) => { await p.kill('SIGTERM') }))
  await rm(dir, { recursive: true, force: true })
}
console.log(failures.length === 0 ? 'all checks passed' : `${failures.length} check(s) failed`)
process.exit(failures.length === 0 ? 0 : 1)
