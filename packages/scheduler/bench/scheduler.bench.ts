// Benchmarks of the scheduler (after `pnpm --filter @p2p-mcp/scheduler... build`):
//   node bench/scheduler.bench.ts [--tasks 20000] [--raft-tasks 3000] [--sim-seeds 5]
// A. the state machine alone: tasks per second through apply (submit, assignment, start,
//    complete), 5 executors, process CPU time (decision 0003); side by side with the cost of the
//    seed's owner rule (sha256 + hamming per peer per task) for the same tasks.
// B. three in-process RaftNodes (MemoryNetwork, MemoryStorage) with an Executor on each and a
//    trivial tool: tasks per second through the log, and time from submit to first task start
//    (wall time: it is asynchronous).
// C. the deterministic Raft simulator without faults: wall and CPU time per 300-task seed.
import { createHash } from 'node:crypto'
import { MemoryNetwork, MemoryStorage, RaftNode } from '@p2p-mcp/consensus'
import type { Entry, StateMachine } from '@p2p-mcp/consensus'
import { simulate } from '@p2p-mcp/consensus/sim'
import { Executor, SchedulerState } from '@p2p-mcp/scheduler'
import type { SchedulerCommand } from '@p2p-mcp/scheduler'
import { runSchedulerSeed } from '../test/support/sim-workload.ts'

const args = new Map<string, string>()
for (let i = 2; i < process.argv.length; i += 2) args.set(process.argv[i]!.replace(/^--/, ''), process.argv[i + 1] ?? '')
const N = Number(args.get('tasks') ?? 20_000)
const RAFT_N = Number(args.get('raft-tasks') ?? 3000)
const SIM_SEEDS = Number(args.get('sim-seeds') ?? 5)
const cpuMs = (): number => { const u = process.cpuUsage(); return (u.user + u.system) / 1000 }
const enc = new TextEncoder()
const dec = new TextDecoder()

function applyBench (): { tasksPerSec: number, commandsPerSec: number, cpuMs: number } {
  const sm = new SchedulerState({ maxTasksPerWorkflow: N, maxAssignedPerExecutor: 64, maxWorkflowBytes: 64 << 20 })
  let index = 0
  let commands = 0
  const run = (cmd: SchedulerCommand): void => { commands++; const r = sm.apply(cmd, { index: ++index, timeMs: index }); if (!r.ok) throw new Error(JSON.stringify(r)) }
  const execs = ['e1', 'e2', 'e3', 'e4', 'e5']
  const caps = [['gpu', 'mem'], ['mem'], [], ['net'], ['gpu']]
  const t0 = cpuMs()
  execs.forEach((e, i) => { run({ type: 'register', executor: e, capabilities: caps[i]! }) })
  run({ type: 'submit', workflow: { id: 'w', tasks: Array.from({ length: N }, (_, i) => ({ id: `t${i}`, tool: 's__t', priority: i % 1000, ...(i % 7 === 0 ? { prefers: ['mem'] } : {}), ...(i % 11 === 0 ? { requires: ['gpu'] } : {}) })) } })
  let done = 0
  while (done < N) {
    for (const e of execs) {
      for (const a of sm.assignmentsOf(e)) {
        run({ type: 'start', workflowId: a.workflowId, taskId: a.taskId, executor: e, epoch: a.epoch })
        run({ type: 'complete', workflowId: a.workflowId, taskId: a.taskId, executor: e, epoch: a.epoch, result: { ok: true } })
        done++
      }
    }
  }
  const ms = cpuMs() - t0
  if (sm.getWorkflowStatus('w')!.state !== 'completed') throw new Error('not completed')
  return { tasksPerSec: Math.round(N / ms * 1000), commandsPerSec: Math.round(commands / ms * 1000), cpuMs: Math.round(ms) }
}

function seedRuleBench (): { decisionsPerSec: number, cpuMs: number } {
  const peers = ['e1', 'e2', 'e3', 'e4', 'e5']
  const sha = (s: string): Buffer => createHash('sha256').update(s).digest()
  const clockHash = createHash('sha256').update('[["e1", 3], ["e2", 5]]').digest('hex')
  const t0 = cpuMs()
  let sink = 0
  for (let i = 0; i < N; i++) {
    const h = sha(`${clockHash}:${createHash('sha256').update(`t${i}`).digest('hex')}`)
    let best = 0, bestD = Infinity
    for (let p = 0; p < peers.length; p++) {
      const q = sha(peers[p]!)
      let d = 0
      for (let j = 0; j < 32; j++) { let x = h[j]! ^ q[j]!; while (x !== 0) { d += x & 1; x >>= 1 } }
      if (d < bestD) { bestD = d; best = p }
    }
    sink += best
  }
  const ms = cpuMs() - t0
  if (sink < 0) console.log(sink)
  return { decisionsPerSec: Math.round(N / ms * 1000), cpuMs: Math.round(ms) }
}

class Machine implements StateMachine {
  readonly state = new SchedulerState({ maxTasksPerWorkflow: RAFT_N, maxWorkflowBytes: 64 << 20, maxAssignedPerExecutor: 64 })
  private timeMs = 0
  apply (e: Entry): unknown {
    const env = JSON.parse(dec.decode(e.data)) as { at: number, cmd: SchedulerCommand }
    this.timeMs = Math.max(this.timeMs, env.at)
    return this.state.apply(env.cmd, { index: e.index, timeMs: this.timeMs })
  }

  snapshot (): Uint8Array { return this.state.snapshot() }
  restore (data: Uint8Array): void { this.state.restore(data) }
}

async function raftBench (): Promise<{ tasksPerSec: number, firstStartMs: number, totalMs: number }> {
  const ids = ['p1', 'p2', 'p3']
  const net = new MemoryNetwork()
  const machines = ids.map(() => new Machine())
  const nodes = ids.map((id, i) => new RaftNode({ id, storage: new MemoryStorage({ voters: ids }), transport: net.transport(id), stateMachine: machines[i]!, tickMs: 10, timeoutMs: 10_000, snapshotThreshold: 1_000_000, seed: i + 1 }))
  await Promise.all(nodes.map(async n => { await n.start() }))
  while (!nodes.some(n => n.status().role === 'leader')) await new Promise(resolve => setTimeout(resolve, 10))
  let firstStart = 0
  const executors = nodes.map((node, i) => {
    const ex: Executor = new Executor({
      id: ids[i]!, view: machines[i]!.state, tickMs: 50, maxConcurrentTasks: 16, maxAssigned: 64,
      propose: cmd => node.propose(enc.encode(JSON.stringify({ at: Date.now(), cmd }))).catch(() => undefined),
      callTool: () => { if (firstStart === 0) firstStart = performance.now(); return Promise.resolve({ content: [] }) },
    })
    node.addEventListener('applied', () => { ex.reconcile() })
    ex.start()
    return ex
  })
  const leader = nodes.find(n => n.status().role === 'leader')!
  await new Promise(resolve => setTimeout(resolve, 200)) // registrations commit
  const t0 = performance.now()
  await leader.propose(enc.encode(JSON.stringify({ at: Date.now(), cmd: { type: 'submit', workflow: { id: 'w', tasks: Array.from({ length: RAFT_N }, (_, i) => ({ id: `t${i}`, tool: 's__t' })) } } })))
  const sm = machines[ids.indexOf(leader.id)]!.state
  await new Promise<void>(resolve => {
    const check = (): void => { if (sm.getWorkflowStatus('w')?.state === 'completed') { leader.removeEventListener('applied', check); resolve() } }
    leader.addEventListener('applied', check)
  })
  const totalMs = performance.now() - t0
  for (const ex of executors) ex.stop()
  await Promise.all(nodes.map(async n => { await n.stop() }))
  return { tasksPerSec: Math.round(RAFT_N / totalMs * 1000), firstStartMs: +(firstStart - t0).toFixed(1), totalMs: Math.round(totalMs) }
}

function simBench (): { seeds: number, wallMsPerSeed: number, cpuMsPerSeed: number, simulatedTasksPerCpuSec: number } {
  const w0 = performance.now(), c0 = cpuMs()
  for (let s = 1; s <= SIM_SEEDS; s++) {
    const r = runSchedulerSeed(s, simulate, 1200, { faults: 'none' })
    if (!r.ok) throw new Error(`seed ${s}: ${r.scheduler.violations.join('; ')}`)
  }
  const wall = (performance.now() - w0) / SIM_SEEDS, cpu = (cpuMs() - c0) / SIM_SEEDS
  return { seeds: SIM_SEEDS, wallMsPerSeed: Math.round(wall), cpuMsPerSeed: Math.round(cpu), simulatedTasksPerCpuSec: Math.round(300 / cpu * 1000) }
}

const load = (await import('node:os')).loadavg().map(x => x.toFixed(2)).join(' ')
console.log(`node ${process.version}, load average ${load}, ${new Date().toISOString()}`)
applyBench() // warm-up
const a = applyBench()
const s = seedRuleBench()
console.log(JSON.stringify({ bench: 'apply', tasks: N, ...a }))
console.log(JSON.stringify({ bench: 'seed owner rule (decisions only, no state)', tasks: N, ...s }))
console.log(JSON.stringify({ bench: 'raft 3 nodes in-process + executors', tasks: RAFT_N, ...await raftBench() }))
console.log(JSON.stringify({ bench: 'raft simulator, no faults', ...simBench() }))
console.log(`load average after: ${(await import('node:os')).loadavg().map(x => x.toFixed(2)).join(' ')}`)
