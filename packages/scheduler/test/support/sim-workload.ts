// The scheduler under the consensus simulator: its state machine replicated by seeded Raft
// nodes under crashes, partitions, message loss and membership churn, with real `Executor`s
// on the side as the simulator's clients (one submitter, the rest executors that crash, restart
// and join under new ids), and checks made where they can fail: on the executor side (who
// executed what under which epoch, each executor's view against the log) and on the log
// (completions per task, completions accepted under a stale epoch).
import { Executor, SchedulerState } from '@p2p-mcp/scheduler'
import type { Assignment, ExecutorInfo, SchedulerCommand, TaskSpec, WorkflowSpec } from '@p2p-mcp/scheduler'
import type { Entry, StateMachine } from '@p2p-mcp/consensus'
import type { SimWorkload } from '@p2p-mcp/consensus/sim'

const enc = new TextEncoder()
const dec = new TextDecoder()

/** Log time in the simulation: one unit per client operation issued anywhere (the proposer's clock). */
const LEASE_MS = 400
const HEARTBEAT_MS = 100
const REPROPOSE_MS = 150

export type SimOp =
  | { kind: 'cmd', client: number, at: number, cmds: SchedulerCommand[] }
  | { kind: 'view', client: number, executor: string, apply: (v: ViewData) => void }
  | { kind: 'status', client: number, apply: (s: StatusData | undefined) => void }
  | { kind: 'noop', client: number }

export interface ViewData { index: number, assignments: Assignment[], executors: ExecutorInfo[] }
export interface StatusData { index: number, state: string, completed: number, total: number, unknown: string[] }

export interface SchedulerSimReport {
  seed: number
  executors: number
  tasks: number
  /** Tasks completed while the simulated cluster was under faults (before `drain`). */
  completedInSim: number
  completed: number
  /** Replica applies compared with the first replica's (results each index, whole state every 64th) and how many differed. */
  replicaComparisons: number
  replicaDivergences: number
  /** Tasks not completed at the end of the run. */
  lost: number
  /** Tasks whose completion the log accepted more than once. */
  completedTwice: number
  /** Calls of one task under one epoch by two executors (or twice by one). */
  sameEpochExecutions: number
  /** Completions (or starts/failures) the log accepted from an owner or epoch that was not current. */
  staleAccepted: number
  /** Executor views that differed from the log's assignments they had just read. */
  viewMismatches: number
  /** Executions of a task beyond its first (under new epochs: re-runs after a crash, a timeout or a submitter's retry). */
  reExecutions: number
  unknownResolved: number
  executorCrashes: number
  staleRejected: number
  steals: number
  reassignments: number
  finalState: string
  violations: string[]
}

/** A thenable resolved by the simulation, synchronously, so the executor's continuations run inside the simulated event. */
class ManualThenable<T> implements PromiseLike<T> {
  private ok: Array<(v: T) => unknown> = []
  private err: Array<(e: unknown) => unknown> = []
  settled = false
  then<R1 = T, R2 = never> (onfulfilled?: ((value: T) => R1 | PromiseLike<R1>) | null, onrejected?: ((reason: unknown) => R2 | PromiseLike<R2>) | null): PromiseLike<R1 | R2> {
    if (onfulfilled != null) this.ok.push(onfulfilled)
    if (onrejected != null) this.err.push(onrejected)
    return this as unknown as PromiseLike<R1 | R2>
  }

  resolve (v: T): void { if (this.settled) return; this.settled = true; for (const f of this.ok) f(v) }
  reject (e: unknown): void { if (this.settled) return; this.settled = true; for (const f of this.err) f(e) }
}

interface Oracle {
  seen: Set<number>
  /** Results (and every 64th index a digest of the whole state) of the first replica to apply each index. */
  firstResults: Map<number, string>
  /** Applies compared against the first replica's, and how many differed. */
  comparisons: number
  divergences: number
  completions: Map<string, number>
  staleAccepted: number
  violations: string[]
  /** The replica that applied the most entries (what the log says at the end). */
  best: SchedulerMachine | undefined
}

/** The control plane's part, as the contract describes it: envelopes with log time, exactly-once request ids. */
export class SchedulerMachine implements StateMachine {
  state = new SchedulerState({ leaseMs: LEASE_MS, retentionMs: 1e12 })
  /** Request ids applied (the control plane's exactly-once; answers to duplicates are not needed here). */
  private appliedCtx = new Set<string>()
  timeMs = 0
  lastIndex = 0

  private readonly oracle: Oracle

  constructor (oracle: Oracle) {
    this.oracle = oracle
    oracle.best ??= this
  }

  apply (e: Entry): unknown {
    this.lastIndex = e.index
    if (e.index > this.oracle.best!.lastIndex) this.oracle.best = this
    if (e.ctx !== undefined && this.appliedCtx.has(e.ctx)) return undefined
    // One entry carries a batch of envelopes proposed together (as a control plane may batch).
    const env = JSON.parse(dec.decode(e.data)) as { at: number, cmds: SchedulerCommand[] }
    this.timeMs = Math.max(this.timeMs, env.at)
    const ctx = { index: e.index, timeMs: this.timeMs }
    const first = !this.oracle.seen.has(e.index)
    this.oracle.seen.add(e.index)
    const results = env.cmds.map(cmd => this.applyOne(cmd, ctx, first))
    // Replicas must agree: the same results at every index, the same state every 64th.
    const digest = JSON.stringify(results) + (e.index % 64 === 0 ? fnv(this.state.snapshot()) : '')
    if (first) this.oracle.firstResults.set(e.index, digest)
    else {
      this.oracle.comparisons++
      if (this.oracle.firstResults.get(e.index) !== digest) { this.oracle.divergences++; this.oracle.violations.push(`replicas diverged at index ${e.index}`) }
    }
    if (e.ctx !== undefined) this.appliedCtx.add(e.ctx)
    return results
  }

  private applyOne (cmd: SchedulerCommand, ctx: { index: number, timeMs: number }, first: boolean): unknown {
    const e = ctx
    let before: { owner: string | undefined, epoch: number, state: string } | undefined
    if (first && (cmd.type === 'start' || cmd.type === 'complete' || cmd.type === 'fail')) {
      const t = this.state.getTask(cmd.workflowId, cmd.taskId)
      if (t !== undefined) before = { owner: t.owner, epoch: t.epoch, state: t.state }
    }
    let result: unknown
    if (cmd.type === 'tick') { this.state.tick(ctx); result = { ok: true } } else result = this.state.apply(cmd, ctx)
    if (first) {
      if ((result as { ok: boolean }).ok && before !== undefined && (cmd.type === 'start' || cmd.type === 'complete' || cmd.type === 'fail')) {
        if (before.owner !== cmd.executor || before.epoch !== cmd.epoch) {
          this.oracle.staleAccepted++
          this.oracle.violations.push(`index ${e.index}: ${cmd.type} of ${cmd.workflowId}/${cmd.taskId} by ${cmd.executor}@${cmd.epoch} accepted while the task was at ${before.owner ?? '-'}@${before.epoch}`)
        }
        if (cmd.type === 'complete') {
          const key = `${cmd.workflowId}/${cmd.taskId}`
          const n = (this.oracle.completions.get(key) ?? 0) + 1
          this.oracle.completions.set(key, n)
          if (n > 1) this.oracle.violations.push(`index ${e.index}: ${key} completed a second time`)
        }
      }
    }
    return result
  }

  /** A header line (JSON), then the scheduler's own snapshot bytes. */
  snapshot (): Uint8Array {
    const head = enc.encode(JSON.stringify({ c: [...this.appliedCtx], t: this.timeMs, i: this.lastIndex }) + '\n')
    const body = this.state.snapshot()
    const out = new Uint8Array(head.length + body.length)
    out.set(head)
    out.set(body, head.length)
    return out
  }

  restore (data: Uint8Array): void {
    const nl = data.indexOf(10)
    const d = JSON.parse(dec.decode(data.subarray(0, nl))) as { c: string[], t: number, i: number }
    this.state = new SchedulerState({ leaseMs: LEASE_MS, retentionMs: 1e12 })
    this.state.restore(data.subarray(nl + 1))
    this.appliedCtx = new Set(d.c)
    this.timeMs = d.t
    this.lastIndex = d.i
  }
}

interface SimExecutorClient {
  client: number
  caps: string[]
  executor: Executor | undefined
  id: string
  incarnation: number
  downUntilOp: number
  view: ViewData
  outbox: SchedulerCommand[]
  calls: Array<{ doneAt: number, t: ManualThenable<unknown>, fail: boolean }>
  writesInARow: number
}

/** Runs `Workflow` of `tasks` tasks through the simulator with `executors` executors; read `report()` after `simulate`. */
export class SchedulerSim {
  readonly oracle: Oracle = { seen: new Set(), firstResults: new Map(), comparisons: 0, divergences: 0, completions: new Map(), staleAccepted: 0, violations: [], best: undefined }
  readonly executions = new Map<string, Array<{ executor: string, epoch: number }>>()
  private readonly clients: SimExecutorClient[] = []
  private clock = 0
  private submitted: StatusData | undefined
  private submitterQueue: SchedulerCommand[] = []
  private submitterTurn = 0
  private unknownResolved = 0
  private executorCrashes = 0
  private viewMismatches = 0
  readonly workflow: WorkflowSpec
  readonly nExecutors: number
  private readonly rng: () => number

  readonly seed: number
  readonly steps: number

  constructor (seed: number, steps: number, options: { tasks?: number } = {}) {
    this.seed = seed
    this.steps = steps
    this.rng = mulberry(seed ^ 0x5eed5)
    this.nExecutors = 3 + Math.floor(this.rng() * 3)
    const capPool = ['gpu', 'mem', 'net']
    for (let i = 0; i < this.nExecutors; i++) {
      const caps = i === 0 ? [...capPool] : capPool.filter(() => this.rng() < 0.5)
      this.clients.push({ client: i + 1, caps, executor: undefined, id: `e${i + 1}`, incarnation: 0, downUntilOp: 0, view: { index: 0, assignments: [], executors: [] }, outbox: [], calls: [], writesInARow: 0 })
    }
    this.workflow = this.makeWorkflow(options.tasks ?? 300)
  }

  get clientCount (): number { return this.nExecutors + 1 }

  private makeWorkflow (n: number): WorkflowSpec {
    const tasks: TaskSpec[] = []
    for (let i = 0; i < n; i++) {
      const r = this.rng()
      const deps: string[] = []
      if (i > 0 && this.rng() < 0.3) deps.push(`t${Math.floor(this.rng() * i)}`)
      const t: TaskSpec = {
        id: `t${i}`, tool: 'ledger__append', arguments: { i }, priority: Math.floor(this.rng() * 1000), retry: { maxAttempts: 50, backoffMs: 10 },
        ...(deps.length > 0 ? { dependsOn: deps } : {}),
        ...(this.rng() < 0.1 ? { requires: ['gpu'] } : {}),
        ...(this.rng() < 0.3 ? { prefers: ['mem'] } : {}),
        ...(this.rng() < 0.1 ? { timeoutMs: 40 } : {}),
      }
      // A fifth are not safe to re-run: a cut-off call makes them `unknown` for the submitter.
      if (r < 0.4) t.annotations = { idempotentHint: true }
      else if (r < 0.6) t.annotations = { readOnlyHint: true }
      else if (r < 0.8) t.honoursIdempotencyKey = true
      tasks.push(t)
    }
    return { id: `wf-${this.seed}`, name: 'sim', tasks }
  }

  /** The workload for `simulate({ workload, clients: sim.clientCount, steps })`. */
  workload (): SimWorkload<SimOp, unknown> {
    return {
      createStateMachine: () => new SchedulerMachine(this.oracle),
      nextOp: (client, _rng, seq) => this.nextOp(client, seq),
      isRead: op => op.kind !== 'cmd',
      encode: op => enc.encode(JSON.stringify(op.kind === 'cmd' ? { at: op.at, cmds: op.cmds } : { at: 0, cmds: [] })),
      read: (sm, op) => {
        const m = sm as SchedulerMachine
        if (op.kind === 'view') op.apply({ index: m.lastIndex, assignments: m.state.assignmentsOf(op.executor), executors: m.state.listExecutors() })
        if (op.kind === 'status') {
          const s = m.state.getWorkflowStatus(this.workflow.id!, { tasks: true })
          op.apply(s === undefined ? undefined : { index: m.lastIndex, state: s.state, completed: s.completed, total: s.total, unknown: s.tasks!.filter(t => t.state === 'unknown').map(t => t.id) })
        }
        return null
      },
      output: result => result,
      probe: () => ({ kind: 'cmd', client: -1, at: this.clock, cmds: [{ type: 'tick' }] }),
    }
  }

  private nextOp (client: number, seq: number): SimOp {
    this.clock++
    if (client === 0) return this.submitterOp()
    const c = this.clients[client - 1]!
    const churn = seq < this.steps * 0.5
    if (c.executor !== undefined && churn && this.rng() < 0.004) this.crash(c)
    if (c.executor === undefined) {
      if (seq < c.downUntilOp) return { kind: 'noop', client }
      this.restart(c)
    }
    const ex = c.executor!
    // Calls whose time has come finish now; failures are transport errors the executor retries.
    const due = c.calls.filter(x => x.doneAt <= this.clock)
    c.calls = c.calls.filter(x => x.doneAt > this.clock)
    for (const x of due) { if (x.fail) x.t.reject(Object.assign(new Error('upstream reset'), { name: 'UpstreamError' })); else x.t.resolve({ content: [{ type: 'text', text: 'ok' }] }) }
    ex.tick()
    if (c.outbox.length > 0 && c.writesInARow < 1) {
      c.writesInARow++
      return { kind: 'cmd', client, at: this.clock, cmds: c.outbox.splice(0, 32) }
    }
    c.writesInARow = 0
    const id = c.id
    return {
      kind: 'view',
      client,
      executor: id,
      apply: v => {
        if (c.executor !== ex || v.index < c.view.index) return
        c.view = v
        ex.reconcile()
        const held = ex.heldTasks().map(h => `${h.key}@${h.epoch}`).sort()
        const log = v.assignments.map(a => `${a.key}@${a.epoch}`).sort()
        if (held.join() !== log.join()) {
          this.viewMismatches++
          this.oracle.violations.push(`executor ${id} holds [${held.join(' ')}] but the log at ${v.index} assigns [${log.join(' ')}]`)
        }
      }
    }
  }

  private submitterOp (): SimOp {
    this.submitterTurn++
    if (this.submitterTurn % 2 === 1) {
      return { kind: 'status', client: 0, apply: s => { if (s !== undefined && (this.submitted === undefined || s.index >= this.submitted.index)) { this.submitted = s; this.queueResolutions(s) } } }
    }
    // Submitted again (same request id) until it shows; the control plane's leader proposes a tick every second, here the submitter does.
    const cmds: SchedulerCommand[] = this.submitted === undefined ? [{ type: 'submit', workflow: this.workflow, requestId: `req-${this.seed}`, principal: 'sim' }] : []
    cmds.push(...this.submitterQueue.splice(0), { type: 'tick' })
    return { kind: 'cmd', client: 0, at: this.clock, cmds }
  }

  private queueResolutions (s: StatusData): void {
    for (const id of s.unknown) {
      if (this.submitterQueue.some(c => c.type === 'resolve' && c.taskId === id)) continue
      // The submitter checks its ledger out of band and asks for a re-run.
      this.unknownResolved++
      this.submitterQueue.push({ type: 'resolve', workflowId: this.workflow.id!, taskId: id, action: 'retry' })
    }
  }

  private crash (c: SimExecutorClient): void {
    c.executor!.stop()
    c.executor = undefined
    c.calls = [] // cut off mid-call: whatever they did stays in the ledger
    c.outbox = []
    c.downUntilOp = 0
    this.executorCrashes++
    c.downUntilOp = Math.floor(this.rng() * 40)
  }

  private restart (c: SimExecutorClient): void {
    c.incarnation++
    // Half restart under the same id (and must give back what they were running), half join as new peers.
    if (c.incarnation > 1 && this.rng() < 0.5) c.id = `e${c.client}.${c.incarnation}`
    const id = c.id
    c.view = { index: 0, assignments: [], executors: [] }
    const view = { assignmentsOf: (x: string) => x === id ? c.view.assignments : [], listExecutors: () => c.view.executors }
    const ex: Executor = new Executor({
      id,
      capabilities: c.caps,
      // Wide executors: each simulated client has one operation in flight, so commands travel in batches.
      maxConcurrentTasks: 8 + Math.floor(this.rng() * 16),
      maxAssigned: 40,
      heartbeatMs: HEARTBEAT_MS,
      reproposeMs: REPROPOSE_MS,
      stealIntervalMs: 50,
      boostIntervalMs: 50,
      tickMs: 0,
      now: () => this.clock,
      view,
      propose: cmd => {
        if (c.executor !== ex) return
        const same = c.outbox.findIndex(x => JSON.stringify(x) === JSON.stringify(cmd))
        if (same < 0) c.outbox.push(cmd)
        return undefined
      },
      callTool: (a, ctx) => {
        const t = new ManualThenable<unknown>()
        let l = this.executions.get(a.key)
        if (l === undefined) this.executions.set(a.key, l = [])
        if (l.some(x => x.epoch === ctx.epoch)) this.oracle.violations.push(`${a.key} executed twice under epoch ${ctx.epoch} (${l.find(x => x.epoch === ctx.epoch)!.executor} and ${id})`)
        l.push({ executor: id, epoch: ctx.epoch })
        const duration = 5 + Math.floor(this.rng() * 75)
        c.calls.push({ doneAt: this.clock + duration, t, fail: this.rng() < 0.05 })
        ctx.signal.addEventListener('abort', () => { t.reject(ctx.signal.reason) })
        return t
      },
    })
    c.executor = ex
    ex.start()
  }

  /**
   * After the simulated run (Raft healed, clients stopped), keeps going without faults on the
   * most advanced replica, every executor back up, until the workflow finishes or `maxUnits` of
   * log time pass (idle stretches where only retry backoffs are left are skipped). A task that
   * still does not complete is lost.
   */
  drain (maxUnits = 100_000): void {
    const m = this.final()
    this.completedInSim = m.state.getWorkflowStatus(this.workflow.id!)?.completed ?? 0
    let index = m.lastIndex
    const pending: SchedulerCommand[] = []
    const apply = (cmds: SchedulerCommand[]): void => {
      if (cmds.length === 0) return
      m.apply({ index: ++index, term: 0, type: 'normal', data: enc.encode(JSON.stringify({ at: this.clock, cmds })), ctx: undefined })
    }
    if (m.state.getWorkflowStatus(this.workflow.id!) === undefined) apply([{ type: 'submit', workflow: this.workflow, requestId: `req-${this.seed}`, principal: 'sim' }])
    this.clock = Math.max(this.clock, m.timeMs)
    for (const c of this.clients) if (c.executor === undefined) this.restart(c)
    const end = this.clock + maxUnits
    while (this.clock < end) {
      this.clock++
      for (const c of this.clients) {
        const ex = c.executor!
        c.view = { index, assignments: m.state.assignmentsOf(c.id), executors: m.state.listExecutors() }
        const due = c.calls.filter(x => x.doneAt <= this.clock)
        c.calls = c.calls.filter(x => x.doneAt > this.clock)
        for (const x of due) x.t.resolve({ content: [{ type: 'text', text: 'ok' }] })
        ex.tick()
        pending.push(...c.outbox.splice(0))
      }
      const s = m.state.getWorkflowStatus(this.workflow.id!, { tasks: true })!
      if (this.clock % 10 === 0) {
        for (const t of s.tasks!) if (t.state === 'unknown') { this.unknownResolved++; pending.push({ type: 'resolve', workflowId: this.workflow.id!, taskId: t.id, action: 'retry' }) }
        pending.push({ type: 'tick' })
      }
      apply(pending.splice(0))
      if (s.state !== 'running') break
      // Nothing held anywhere and only retry backoffs left: skip ahead to the first one's end.
      if (this.clients.every(c => c.executor!.heldTasks().length === 0 && c.calls.length === 0)) {
        let next = Infinity
        for (const t of s.tasks!) if (t.state === 'queued') next = Math.min(next, m.state.getTask(this.workflow.id!, t.id)!.notBeforeMs)
        if (Number.isFinite(next) && next > this.clock + 1) this.clock = next - 1
      }
    }
  }

  private completedInSim = -1

  private final (): SchedulerMachine {
    return this.oracle.best!
  }

  report (): SchedulerSimReport {
    const final = this.final()
    const status = final.state.getWorkflowStatus(this.workflow.id!)
    const n = this.workflow.tasks.length
    let sameEpoch = 0, reExec = 0
    for (const l of this.executions.values()) {
      reExec += l.length - 1
      const epochs = new Set(l.map(x => x.epoch))
      sameEpoch += l.length - epochs.size
    }
    const completedTwice = [...this.oracle.completions.values()].filter(x => x > 1).length
    const violations = [...this.oracle.violations]
    // Every live executor's held tasks against the final log.
    for (const c of this.clients) {
      if (c.executor === undefined) continue
      const held = c.executor.heldTasks().filter(h => h.phase !== 'reporting').length
      const log = final.state.assignmentsOf(c.id).length
      if (status?.state === 'completed' && (held !== 0 || log !== 0)) violations.push(`executor ${c.id} holds ${held} tasks, the final log assigns it ${log}, after the workflow completed`)
    }
    const completed = status?.completed ?? 0
    return {
      seed: this.seed, executors: this.nExecutors, tasks: n, completedInSim: this.completedInSim, replicaComparisons: this.oracle.comparisons, replicaDivergences: this.oracle.divergences, completed, lost: n - completed, completedTwice, sameEpochExecutions: sameEpoch,
      staleAccepted: this.oracle.staleAccepted, viewMismatches: this.viewMismatches, reExecutions: reExec, unknownResolved: this.unknownResolved,
      executorCrashes: this.executorCrashes, staleRejected: final.state.stats.staleRejected, steals: final.state.stats.steals, reassignments: final.state.stats.reassignments,
      finalState: status?.state ?? 'never submitted', violations,
    }
  }
}

function fnv (b: Uint8Array): string {
  let h = 0x811c9dc5
  for (let i = 0; i < b.length; i++) h = Math.imul(h ^ b[i]!, 0x01000193)
  return (h >>> 0).toString(16)
}

/** The simulation's seeded PRNG (mulberry32). */
export function mulberry (seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6D2B79F5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

/** Steps of client operations under faults; the rest of the workflow runs in `drain`. */
export const DEFAULT_SIM_STEPS = 1200

export interface SeedResult {
  seed: number
  profile: string
  /** Raft's own checks (safety, liveness of a probe write) from the consensus simulator. */
  raftOk: boolean
  raftViolations: string[]
  /** The run hit the simulator's event cap before its liveness phase. */
  truncated: boolean
  scheduler: SchedulerSimReport
  /** Everything held: Raft ok, no scheduler violation, nothing lost or completed twice. */
  ok: boolean
  virtualMs: number
  crashes: number
  partitions: number
  messagesDropped: number
}

/** One seed: the scheduler under the consensus simulator's faults, then drained without faults. */
export function runSchedulerSeed (seed: number, simulate: typeof import('@p2p-mcp/consensus/sim').simulate, steps = DEFAULT_SIM_STEPS, options: { faults?: 'none' } = {}): SeedResult {
  const sim = new SchedulerSim(seed, steps)
  const r = simulate({ seed, workload: sim.workload(), clients: sim.clientCount, steps, checkLinearizability: false, faults: options.faults })
  sim.drain()
  const s = sim.report()
  // The consensus simulator caps a run at 400,000 events; a run that hits the cap is cut short
  // (reported as `truncated`), the drain finishes the workflow, and every other check still applies.
  const raftViolations = r.violations.filter(v => !v.endsWith('event budget exhausted'))
  const ok = raftViolations.length === 0 && s.violations.length === 0 && s.lost === 0 && s.completedTwice === 0 && s.sameEpochExecutions === 0 && s.staleAccepted === 0 && s.viewMismatches === 0
  return {
    seed, profile: r.stats.profile, raftOk: raftViolations.length === 0, raftViolations, truncated: raftViolations.length < r.violations.length, scheduler: s, ok, virtualMs: Math.round(r.stats.virtualMs), crashes: r.stats.crashes,
    partitions: r.stats.partitions, messagesDropped: r.stats.messagesDropped,
  }
}
