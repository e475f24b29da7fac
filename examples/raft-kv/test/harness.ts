// Drives raft-kv clusters of real processes for the tests and the long seeded script:
// start/kill/restart members, partition them with the connection gater, run concurrent
// clients that record a history, and check it with @p2p-mcp/consensus/check.
import { spawn } from 'node:child_process'
import type { ChildProcess } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import { checkLinearizability, kvModel } from '@p2p-mcp/consensus/check'
import type { KvInput, KvOperation } from '@p2p-mcp/consensus/check'
import { initCluster } from '../server.ts'
import type { ClusterConfig } from '../server.ts'

const SERVER = fileURLToPath(new URL('../server.ts', import.meta.url))

export interface Member { name: string, peerId: string, url: string, proc: ChildProcess | undefined, restarts: number }

/** A splitmix32-style seeded PRNG: the same seed, the same choices. */
export function prng (seed: number): () => number {
  let s = seed >>> 0
  return () => {
    s = (s + 0x9e3779b9) >>> 0
    let z = s
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0
    return ((z ^ (z >>> 16)) >>> 0) / 0x100000000
  }
}

export class KvCluster {
  readonly dir: string
  readonly config: ClusterConfig
  readonly members: Member[]
  private readonly extraArgs: string[]

  private constructor (dir: string, config: ClusterConfig, extraArgs: string[]) {
    this.dir = dir
    this.config = config
    this.extraArgs = extraArgs
    this.members = config.members.map(m => ({ name: m.name, peerId: m.peerId, url: `http://127.0.0.1:${m.httpPort}`, proc: undefined, restarts: 0 }))
  }

  static async start (dir: string, nodes: number, options: { snapshotThreshold?: number } = {}): Promise<KvCluster> {
    const config = await initCluster(dir, nodes)
    const c = new KvCluster(dir, config, ['--snapshot-threshold', String(options.snapshotThreshold ?? 500)])
    await Promise.all(c.members.map(async m => { await c.startMember(m) }))
    return c
  }

  static open (dir: string): KvCluster {
    return new KvCluster(dir, JSON.parse(readFileSync(`${dir}/cluster.json`, 'utf8')) as ClusterConfig, [])
  }

  member (name: string): Member { return this.members.find(m => m.name === name)! }
  alive (): Member[] { return this.members.filter(m => m.proc !== undefined) }

  async startMember (m: Member): Promise<void> {
    if (m.proc !== undefined) return
    const proc = spawn(process.execPath, [SERVER, '--config', `${this.dir}/cluster.json`, '--name', m.name, '--admin', ...this.extraArgs], { stdio: ['ignore', 'pipe', 'pipe'] })
    let err = ''
    proc.stderr.setEncoding('utf8')
    proc.stderr.on('data', (s: string) => { err = (err + s).slice(-4000) })
    m.proc = proc
    proc.once('exit', () => { if (m.proc === proc) m.proc = undefined })
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => { reject(new Error(`${m.name} did not start in 30 s: ${err}`)) }, 30_000)
      const lines = createInterface({ input: proc.stdout })
      lines.on('line', line => { if (line.startsWith('RAFT_KV_READY ')) { clearTimeout(timer); resolve() } })
      proc.once('exit', code => { clearTimeout(timer); reject(new Error(`${m.name} exited with ${code}: ${err}`)) })
    })
  }

  /** kill -9: no shutdown, no close of files. */
  async kill (m: Member): Promise<void> {
    const proc = m.proc
    if (proc === undefined) return
    const exited = new Promise<void>(resolve => proc.once('exit', () => { resolve() }))
    proc.kill('SIGKILL')
    await exited
    m.proc = undefined
  }

  async restart (m: Member): Promise<void> {
    m.restarts++
    await this.startMember(m)
  }

  async status (m: Member): Promise<{ role: string, leader: string, term: number, commit: number, applied: number } | undefined> {
    try {
      const r = await fetch(`${m.url}/status`, { signal: AbortSignal.timeout(2_000) })
      return await r.json() as { role: string, leader: string, term: number, commit: number, applied: number }
    } catch {
      return undefined
    }
  }

  async leader (): Promise<Member | undefined> {
    for (const m of this.alive()) if ((await this.status(m))?.role === 'leader') return m
    return undefined
  }

  /** Cuts `victim` off from everyone else (both directions) through the connection gaters. */
  async isolate (victim: Member): Promise<void> {
    const others = this.members.filter(m => m !== victim)
    await this.block(victim, others.map(o => o.peerId))
    for (const o of others) await this.block(o, [victim.peerId])
  }

  async heal (): Promise<void> {
    for (const m of this.members) await this.block(m, [])
  }

  private async block (m: Member, peers: string[]): Promise<void> {
    if (m.proc === undefined) return
    await fetch(`${m.url}/admin/block`, { method: 'POST', body: JSON.stringify(peers), signal: AbortSignal.timeout(2_000) }).catch(() => {})
  }

  async stop (): Promise<void> {
    await Promise.all(this.members.map(async m => { await this.kill(m) }))
  }

  /** Waits until a leader exists and every live member has applied what it committed. */
  async settle (ms = 30_000): Promise<Member> {
    const deadline = Date.now() + ms
    for (;;) {
      const leader = await this.leader()
      if (leader !== undefined) {
        const ls = await this.status(leader)
        const all = await Promise.all(this.alive().map(async m => await this.status(m)))
        if (ls !== undefined && all.every(s => s !== undefined && s.applied >= ls.commit)) return leader
      }
      if (Date.now() > deadline) throw new Error('the cluster did not settle')
      await new Promise(resolve => setTimeout(resolve, 100))
    }
  }
}

type Outcome = { ok: true, body: Record<string, unknown> } | { ok: false, definite: boolean }

/** One HTTP request: a definite failure if it never reached the service or was refused with 503 ProposalDropped. */
async function call (url: string, init: RequestInit): Promise<Outcome> {
  let res: Response
  try {
    res = await fetch(url, { ...init, signal: AbortSignal.timeout(4_000) })
  } catch (err) {
    const code = ((err as Error).cause as { code?: string } | undefined)?.code
    return { ok: false, definite: code === 'ECONNREFUSED' }
  }
  const body = await res.json().catch(() => ({})) as Record<string, unknown>
  if (res.status === 200) return { ok: true, body }
  return { ok: false, definite: res.status === 503 && body.error === 'ProposalDroppedError' }
}

export interface WorkloadResult {
  history: KvOperation[]
  ok: number
  failed: number
  unknown: number
  /** Acknowledged appends per key: each must be in the final value. */
  acked: Map<string, string[]>
}

/** `clients` concurrent clients issue random get/put/append/cas on `keys` keys to random members until `until()`. */
export async function runClients (c: KvCluster, options: { clients: number, keys: number, rnd: () => number, until: () => boolean }): Promise<WorkloadResult> {
  const t0 = performance.now()
  const result: WorkloadResult = { history: [], ok: 0, failed: 0, unknown: 0, acked: new Map() }
  const { rnd } = options
  const client = async (id: number): Promise<void> => {
    let seq = 0
    while (!options.until()) {
      const m = c.members[Math.floor(rnd() * c.members.length)]!
      // Keys a*: appends and reads only, so every acknowledged append must survive; k*: every op.
      const k = Math.floor(rnd() * options.keys)
      const appendOnly = k % 2 === 0
      const key = `${appendOnly ? 'a' : 'k'}${k}`
      const value = `c${id}.${++seq}`
      const r = appendOnly ? (rnd() < 0.3 ? 0 : 0.6) : rnd()
      let input: KvInput
      let req: [string, RequestInit]
      if (r < 0.3) { input = { op: 'get', key }; req = [`${m.url}/kv/${key}`, {}] }
      else if (r < 0.55) { input = { op: 'put', key, value }; req = [`${m.url}/kv/${key}`, { method: 'PUT', body: value }] }
      else if (r < 0.85) { input = { op: 'append', key, value: `,${value}` }; req = [`${m.url}/append/${key}`, { method: 'POST', body: `,${value}` }] }
      else {
        const expected = rnd() < 0.3 ? undefined : `c${Math.floor(rnd() * options.clients)}.${Math.max(1, seq - Math.floor(rnd() * 5))}`
        input = { op: 'cas', key, expected, value }
        req = [`${m.url}/cas/${key}`, { method: 'POST', body: JSON.stringify({ expected: expected ?? null, value }) }]
      }
      const call0 = performance.now() - t0
      const out = await call(...req)
      const ret = performance.now() - t0
      if (out.ok) {
        result.ok++
        const output = input.op === 'get' ? { value: (out.body.value as string | null) ?? undefined } : input.op === 'cas' ? { ok: out.body.ok === true } : {}
        result.history.push({ client: id, input, call: call0, output, return: ret })
        if (input.op === 'append') {
          const list = result.acked.get(key) ?? []
          list.push(input.value)
          result.acked.set(key, list)
        }
      } else if (out.definite || input.op === 'get') {
        result.failed++
        await new Promise(resolve => setTimeout(resolve, 20 + rnd() * 50))
      } else {
        result.unknown++
        result.history.push({ client: id, input, call: call0, output: undefined, return: Infinity })
      }
    }
  }
  await Promise.all(Array.from({ length: options.clients }, async (_, i) => { await client(i) }))
  return result
}

export interface Verdict {
  linearizable: true | false | 'unknown'
  lostAppends: string[]
  finalValues: Record<string, string | undefined>
}

/** Final linearizable reads of every key from the settled leader, then the checks. */
export async function verify (c: KvCluster, w: WorkloadResult, keys: number, checkTimeoutMs = 60_000): Promise<Verdict> {
  const leader = await c.settle()
  const t = performance.now()
  const finalValues: Record<string, string | undefined> = {}
  const history = [...w.history]
  for (let k = 0; k < keys; k++) {
    const key = `${k % 2 === 0 ? 'a' : 'k'}${k}`
    const r = await fetch(`${leader.url}/kv/${key}`, { signal: AbortSignal.timeout(5_000) })
    const v = ((await r.json()) as { value: string | null }).value ?? undefined
    finalValues[key] = v
    history.push({ client: 'final', input: { op: 'get', key }, call: t + 1e9, output: { value: v }, return: t + 1e9 + 1 })
  }
  // Append-only keys: every acknowledged append must be in the final value (the other keys'
  // writes are judged by the linearizability search).
  const lostAppends: string[] = []
  for (const [key, values] of w.acked) {
    if (!key.startsWith('a')) continue
    const final = finalValues[key] ?? ''
    for (const v of values) if (!final.includes(v)) lostAppends.push(`${key}:${v}`)
  }
  const result = checkLinearizability(kvModel, history, { timeoutMs: checkTimeoutMs })
  return { linearizable: result.ok, lostAppends, finalValues }
}

export async function sleep (ms: number): Promise<void> { await new Promise(resolve => setTimeout(resolve, ms)) }

/**
 * One run: clients write for `ms` while the nemesis SIGKILLs members (the leader first, then
 * random ones) and restarts them, and isolates members with the connection gater; then heal,
 * settle and check the whole history.
 */
export async function chaos (c: KvCluster, seed: number, ms: number, minFaults = 0): Promise<{ kills: number, partitions: number, leaderKills: number }> {
  const rnd = prng(seed)
  const stats = { kills: 0, partitions: 0, leaderKills: 0 }
  const end = Date.now() + ms
  // On a loaded machine restarts are slow: keep going (up to 3× the time) until minFaults happened.
  const hardEnd = Date.now() + 3 * ms
  const minority = Math.floor(c.members.length / 2)
  while (Date.now() < end - 1_500 || (stats.kills + stats.partitions < minFaults && Date.now() < hardEnd)) {
    await sleep(600 + rnd() * 900)
    const r = rnd()
    const leader = await c.leader()
    // The first fault is always a SIGKILL of the leader (once one is known).
    if (stats.kills === 0 && leader === undefined) continue
    if (r < 0.6 || stats.kills === 0) {
      // SIGKILL the leader half of the time (always the first time), else a random member.
      const victim = stats.kills === 0 || rnd() < 0.5 ? (leader ?? c.members[0]!) : c.members[Math.floor(rnd() * c.members.length)]!
      if (c.members.length - c.alive().length >= minority) continue
      if (victim === leader) stats.leaderKills++
      stats.kills++
      await c.kill(victim)
      await sleep(300 + rnd() * 1_200)
      await c.restart(victim)
    } else {
      const victim = rnd() < 0.5 && leader !== undefined ? leader : c.members[Math.floor(rnd() * c.members.length)]!
      stats.partitions++
      await c.isolate(victim)
      await sleep(500 + rnd() * 1_500)
      await c.heal()
    }
  }
  return stats
}
