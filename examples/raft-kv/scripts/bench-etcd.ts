/* eslint-disable no-console -- a command-line script reports on stdout */
// Side by side: raft-kv (this example: @p2p-mcp/consensus, FileStorage, libp2p over TCP) and
// etcd (Debian's etcd-server), three members each on 127.0.0.1 with their own data
// directories, fsync on for both. The same load generator (Node http, keep-alive) drives
// raft-kv's PUT /kv/<key> and etcd's JSON gateway POST /v3/kv/put; etcd's native gRPC API is
// driven with the etcd3 client. 1, 64 and 256 concurrent clients, 100-byte values. Also:
// fsyncs per write on each leader (strace -c -f -e trace=fsync,fdatasync) and leader failover
// (kill -9 the leader under load: time until writes succeed again).
//   node scripts/bench-etcd.ts [--seconds 10] [--clients 1,64,256] [--out results.json]
import { execFileSync, spawn, spawnSync } from 'node:child_process'
import type { ChildProcess } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { Agent, request } from 'node:http'
import { cpus, loadavg, tmpdir, totalmem } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { Etcd3 } from 'etcd3'
import { KvCluster, sleep } from '../test/harness.ts'

const { values } = parseArgs({ options: { seconds: { type: 'string' }, clients: { type: 'string' }, out: { type: 'string' } } })
const SECONDS = Number(values.seconds ?? 10)
const CLIENTS = (values.clients ?? '1,64,256').split(',').map(Number)
const VALUE = 'v'.repeat(100)
const root = mkdtempSync(join(tmpdir(), 'bench-etcd-'))

function ensureInstalled (bin: string, pkg: string): void {
  if (spawnSync('which', [bin]).status === 0) return
  console.log(`installing ${pkg} (apt-get)`)
  execFileSync('apt-get', ['update'], { stdio: 'inherit' })
  execFileSync('apt-get', ['install', '-y', pkg], { stdio: 'inherit', env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } })
}

// ------------------------------------------------------------------ etcd cluster

interface EtcdMember { name: string, client: number, peer: number, proc: ChildProcess | undefined, dir: string }

function startEtcdMember (m: EtcdMember, all: EtcdMember[], state: 'new' | 'existing'): void {
  const initial = all.map(x => `${x.name}=http://127.0.0.1:${x.peer}`).join(',')
  m.proc = spawn('etcd', [
    '--name', m.name, '--data-dir', m.dir,
    '--listen-client-urls', `http://127.0.0.1:${m.client}`, '--advertise-client-urls', `http://127.0.0.1:${m.client}`,
    '--listen-peer-urls', `http://127.0.0.1:${m.peer}`, '--initial-advertise-peer-urls', `http://127.0.0.1:${m.peer}`,
    '--initial-cluster', initial, '--initial-cluster-state', state, '--initial-cluster-token', 'bench', '--log-level', 'error'
  ], { stdio: ['ignore', 'ignore', 'ignore'] })
}

async function etcdStatus (m: EtcdMember): Promise<{ leader: string, member: string } | undefined> {
  try {
    const r = await post(m.client, '/v3/maintenance/status', '{}')
    if (r.status !== 200) return undefined
    const b = JSON.parse(r.body) as { leader?: string, header?: { member_id?: string } }
    return { leader: b.leader ?? '', member: b.header?.member_id ?? '' }
  } catch {
    return undefined
  }
}

async function etcdLeader (ms: EtcdMember[]): Promise<EtcdMember> {
  const deadline = Date.now() + 30_000
  while (Date.now() < deadline) {
    for (const m of ms) {
      if (m.proc === undefined) continue
      const s = await etcdStatus(m)
      if (s !== undefined && s.leader !== '' && s.leader === s.member) return m
    }
    await sleep(100)
  }
  throw new Error('etcd has no leader')
}

// ------------------------------------------------------------------ load generator

const agent = new Agent({ keepAlive: true, maxSockets: 1024 })

function post (port: number, path: string, body: string, method = 'POST'): Promise<{ status: number, body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, method, agent, headers: { 'content-length': Buffer.byteLength(body) }, timeout: 5_000 }, res => {
      let text = ''
      res.setEncoding('utf8')
      res.on('data', (s: string) => { text += s })
      res.on('end', () => { resolve({ status: res.statusCode ?? 0, body: text }) })
    })
    req.on('timeout', () => { req.destroy(new Error('timeout')) })
    req.on('error', reject)
    req.end(body)
  })
}

type Put = (client: number, seq: number) => Promise<boolean>

interface Run { writes: number, errors: number, seconds: number, writesPerSecond: number, p50Ms: number, p99Ms: number, loadAvg1: number }

async function drive (put: Put, clients: number, seconds: number): Promise<Run> {
  const lat: number[] = []
  let errors = 0
  const end = performance.now() + seconds * 1000
  const t0 = performance.now()
  await Promise.all(Array.from({ length: clients }, async (_, c) => {
    let seq = 0
    while (performance.now() < end) {
      const t = performance.now()
      const ok = await put(c, seq++).catch(() => false)
      if (ok) lat.push(performance.now() - t)
      else errors++
    }
  }))
  const elapsed = (performance.now() - t0) / 1000
  lat.sort((a, b) => a - b)
  const q = (p: number): number => +(lat[Math.min(lat.length - 1, Math.floor(p * lat.length))] ?? NaN).toFixed(2)
  return { writes: lat.length, errors, seconds: +elapsed.toFixed(2), writesPerSecond: Math.round(lat.length / elapsed), p50Ms: q(0.5), p99Ms: q(0.99), loadAvg1: +loadavg()[0]!.toFixed(2) }
}

const b64 = (s: string): string => Buffer.from(s).toString('base64')
const etcdJsonPut = (port: () => number): Put => async (c, seq) => (await post(port(), '/v3/kv/put', JSON.stringify({ key: b64(`k${c}-${seq % 1000}`), value: b64(VALUE) }))).status === 200
const raftPut = (port: () => number): Put => async (c, seq) => (await post(port(), `/kv/k${c}-${seq % 1000}`, VALUE, 'PUT')).status === 200

// ------------------------------------------------------------------ fsync counting

/** Attaches strace to `pid` while `n` writes are made by `clients` clients; returns fsync+fdatasync calls per write. */
async function fsyncsPerWrite (pid: number, put: Put, clients: number, n: number): Promise<{ writes: number, fsync: number, fdatasync: number, perWrite: number }> {
  const out = join(root, `strace-${pid}-${clients}.txt`)
  // -p attaches to every existing thread of the process (Node's libuv pool, Go's threads), -f to new ones.
  const st = spawn('strace', ['-c', '-f', '-e', 'trace=fsync,fdatasync', '-o', out, '-p', String(pid)], { stdio: 'ignore' })
  await sleep(1_000)
  let done = 0
  await Promise.all(Array.from({ length: clients }, async (_, c) => {
    let seq = 0
    while (done < n) {
      if (await put(c, seq++).catch(() => false)) done++
    }
  }))
  const exited = new Promise<void>(resolve => st.once('exit', () => { resolve() }))
  st.kill('SIGINT')
  await exited
  const text = readFileSync(out, 'utf8')
  // Columns: % time, seconds, usecs/call, calls, [errors,] syscall.
  const calls = (name: string): number => {
    const cols = text.split('\n').map(l => l.trim().split(/\s+/)).find(c => c.at(-1) === name)
    return cols === undefined ? 0 : Number(cols[3])
  }
  const fsync = calls('fsync')
  const fdatasync = calls('fdatasync')
  return { writes: done, fsync, fdatasync, perWrite: +((fsync + fdatasync) / done).toFixed(3) }
}

/** Kills the leader under load from 16 clients spread over the live members; time until a write succeeds again. */
async function failover (kill: () => Promise<number>, put: Put): Promise<{ failoverMs: number }> {
  let stop = false
  let killedAt = Infinity
  let recoveredAt = Infinity
  const workers = Array.from({ length: 16 }, async (_, c) => {
    let seq = 0
    while (!stop) {
      const ok = await put(c, seq++).catch(() => false)
      const t = performance.now()
      if (ok && t > killedAt && recoveredAt === Infinity) recoveredAt = t
      if (!ok) await sleep(5)
    }
  })
  await sleep(2_000)
  killedAt = await kill()
  const deadline = performance.now() + 20_000
  while (recoveredAt === Infinity && performance.now() < deadline) await sleep(10)
  stop = true
  await Promise.all(workers)
  return { failoverMs: Math.round(recoveredAt - killedAt) }
}

// ------------------------------------------------------------------ main

ensureInstalled('etcd', 'etcd-server')
ensureInstalled('strace', 'strace')
const etcdVersion = execFileSync('etcd', ['--version']).toString().split('\n')[0]
const results: Record<string, unknown> = {
  date: new Date().toISOString(), node: process.version, etcd: etcdVersion, cpus: cpus().length, cpuModel: cpus()[0]?.model, memGiB: Math.round(totalmem() / 2 ** 30), loadAvgStart: loadavg().map(x => +x.toFixed(2)), seconds: SECONDS
}
console.log(JSON.stringify(results))

const etcd: EtcdMember[] = [0, 1, 2].map(i => ({ name: `e${i + 1}`, client: 23791 + i, peer: 23801 + i, proc: undefined, dir: join(root, `etcd${i + 1}`) }))
for (const m of etcd) startEtcdMember(m, etcd, 'new')
const kv = await KvCluster.start(join(root, 'raft-kv'), 3, { snapshotThreshold: 10_000 })
try {
  let eLeader = await etcdLeader(etcd)
  let kLeader = await kv.settle()
  const kPort = (): number => Number(new URL(kLeader.url).port)
  const grpc = new Etcd3({ hosts: `http://127.0.0.1:${eLeader.client}` })
  const grpcPut: Put = async (c, seq) => { await grpc.put(`g${c}-${seq % 1000}`).value(VALUE); return true }
  const table: Array<Record<string, unknown>> = []
  for (const clients of CLIENTS) {
    for (const [system, put] of [['raft-kv HTTP', raftPut(kPort)], ['etcd JSON gateway', etcdJsonPut(() => eLeader.client)], ['etcd gRPC (etcd3)', grpcPut]] as Array<[string, Put]>) {
      await drive(put, clients, 1) // warm-up
      const r = await drive(put, clients, SECONDS)
      const row = { system, clients, ...r }
      table.push(row)
      console.log(JSON.stringify(row))
    }
  }
  results.throughput = table

  const kPid = kLeader.proc!.pid!
  const ePid = eLeader.proc!.pid!
  const fs: Array<Record<string, unknown>> = []
  for (const clients of [1, 64]) {
    const n = clients === 1 ? 300 : 3000
    fs.push({ system: 'raft-kv leader', clients, ...await fsyncsPerWrite(kPid, raftPut(kPort), clients, n) })
    fs.push({ system: 'etcd leader (JSON gateway)', clients, ...await fsyncsPerWrite(ePid, etcdJsonPut(() => eLeader.client), clients, n) })
    console.log(JSON.stringify(fs.slice(-2)))
  }
  results.fsyncs = fs
  grpc.close()

  // Failover: clients spread over the members that are still up.
  const kAlive = (): number => { const a = kv.alive(); return Number(new URL(a[Math.floor(Math.random() * a.length)]!.url).port) }
  const kf = await failover(async () => { const t = performance.now(); await kv.kill(kLeader); return t }, raftPut(kAlive))
  const eAlive = (): number => { const a = etcd.filter(m => m.proc !== undefined); return a[Math.floor(Math.random() * a.length)]!.client }
  const ef = await failover(async () => { const victim = eLeader; const exited = new Promise(resolve => victim.proc!.once('exit', resolve)); victim.proc!.kill('SIGKILL'); const t = performance.now(); victim.proc = undefined; await exited; return t }, etcdJsonPut(eAlive))
  results.failover = { raftKv: kf, etcd: ef, raftKvTimeouts: 'tick 50 ms, election 10 ticks (500-1000 ms randomised), heartbeat 50 ms', etcdTimeouts: 'defaults: heartbeat 100 ms, election 1000 ms' }
  console.log(JSON.stringify(results.failover))
  kLeader = await kv.settle()
  eLeader = await etcdLeader(etcd)
} finally {
  results.loadAvgEnd = loadavg().map(x => +x.toFixed(2))
  await kv.stop()
  for (const m of etcd) m.proc?.kill('SIGKILL')
  if (values.out !== undefined) writeFileSync(values.out, JSON.stringify(results, null, 2))
  console.log(JSON.stringify(results))
  rmSync(root, { recursive: true, force: true })
  agent.destroy()
}
