import type { Operation } from '../check/linearizability.js'
import { prng } from '../core/prng.js'
import { RaftCore } from '../core/raft-core.js'
import { ProposalDroppedError, errorMessage } from '../errors.js'
import { MemoryStorage } from '../storage/memory-storage.js'
import type { ConfChange, Entry, Message, NodeId, RaftCoreInit, Ready, Snapshot, StateMachine } from '../types.js'
import { EventQueue } from './event-queue.js'
import type { SimWorkload } from './workload.js'

/** Which faults a run injects; each is on by default, with probabilities drawn per seed (swarm testing). */
export interface SimFaults {
  /** Drop messages. */
  drop: boolean
  /** Deliver some messages twice. */
  duplicate: boolean
  /** Delay with a long tail, which reorders messages. */
  delay: boolean
  /** Symmetric and asymmetric partitions, isolating random nodes or the leader. */
  partitions: boolean
  /** Crash nodes (losing writes not yet synced) and restart them. */
  crashes: boolean
  /** Make one node's disk 20-50x slower for a while. */
  slowDisks: boolean
  /** Run each node's clock up to 30% fast or slow. */
  clockSkew: boolean
  /** Add learners, promote them, remove voters, transfer leadership. */
  membership: boolean
  /** Compact logs often so that InstallSnapshot is exercised. */
  snapshots: boolean
}

export type SimProfile = 'mixed' | 'leader-churn' | 'slow-storage' | 'figure8'

export interface SimStats {
  virtualMs: number
  events: number
  messagesSent: number
  messagesDropped: number
  elections: number
  leaderChanges: number
  partitions: number
  crashes: number
  snapshotsSent: number
  snapshotsInstalled: number
  compactions: number
  membershipChanges: number
  leaderTransfers: number
  opsOk: number
  opsFailed: number
  unknownOutcomes: number
  /** Unknown outcomes that did take effect (their entry was applied somewhere). */
  unknownApplied: number
  reads: number
  maxTerm: number
  profile: SimProfile
  /** The workload's check of the history ('skipped' when it has none or it was turned off). */
  linearizability: true | false | 'unknown' | 'skipped'
}

/** The per-run parameters the simulator draws from the seed (swarm testing). */
export interface WorldParams {
  seed: number
  faults: SimFaults
  profile: SimProfile
  steps: number
  clients: number
  pDrop: number
  pDup: number
  pLongDelay: number
  diskMs: number
  maxSizePerMsg: number
  maxInflightMsgs: number
  snapshotEvery: number
  core: Partial<RaftCoreInit> | undefined
  createCore: (init: RaftCoreInit) => RaftCore
  /** The swarm stream the parameters were drawn from, continued for per-node draws (clock skew). */
  swarmDraws: () => number
}

const TICK_MS = 10
const ELECTION_TICKS = 10
const CLIENT_TIMEOUT_MS = 3000

export interface SimNode {
  id: NodeId
  alive: boolean
  removed: boolean
  incarnation: number
  disk: MemoryStorage
  core: RaftCore
  sm: StateMachine
  applied: number
  writing: boolean
  slowUntil: number
  tickMs: number
  /** ctx → client operation waiting for its entry to apply here. */
  waiting: Map<string, Pending>
  /** ctx → read waiting for its read index. */
  reads: Map<string, Pending>
  readyReads: Array<{ index: number, p: Pending }>
  wasLeaderTerm: number
  checkedCommit: number
}

export interface Pending { op: Operation<unknown, unknown>, node: NodeId }

/** Called by the world when something happens that the invariants or the nemesis watch. */
export interface WorldHooks {
  /** After every input to a node (the continuous checks). */
  observe(n: SimNode): void
}

/**
 * The simulated world: a virtual clock and event queue, nodes (core + in-memory disk +
 * state machine) driven through their Ready loop, a network with drops, duplicates, delays
 * and directional cuts, crashes that lose unsynced writes, and clients. Faults are decided
 * by the nemesis, safety by the invariants; both act on this object.
 */
export class World<I, O> {
  readonly p: WorldParams
  readonly workload: SimWorkload<I, O>
  readonly hooks: WorldHooks
  // Independent streams per subsystem, so that changing one does not reshuffle the others.
  readonly rNet: () => number
  readonly rDisk: () => number
  readonly rClient: () => number
  readonly rNem: () => number
  readonly rSwarm: () => number
  readonly q = new EventQueue()
  now = 0
  private seq = 0
  readonly nodes = new Map<NodeId, SimNode>()
  /** Directional links cut: "a>b" means a cannot reach b. */
  readonly cut = new Set<string>()
  readonly initialVoters: NodeId[] = []
  nextId: number
  readonly stats: SimStats
  readonly violations: string[] = []
  readonly trace: string[] | undefined
  private traceH = 0x811c9dc5
  /** index → digest of the entry applied there. */
  readonly committed = new Map<number, string>()
  /** index → entry term, and the term of the node that first saw it committed (≥ the term it was committed in). */
  readonly committedTerms = new Map<number, { term: number, by: number }>()
  readonly opCtx = new Map<Operation<I, O>, string>()
  readonly appliedCtx = new Set<string>()
  readonly leaders = new Map<number, NodeId>()
  readonly history: Array<Operation<I, O>> = []
  lastLeader: NodeId = ''
  faultPhase = true
  probe: { op: Operation<I, O>, done: boolean } | undefined
  opsIssued = 0
  outstanding = 0
  private ctxSeq = 0

  constructor (p: WorldParams, workload: SimWorkload<I, O>, nodes: number, hooks: WorldHooks, trace: boolean) {
    this.p = p
    this.workload = workload
    this.hooks = hooks
    const seed = p.seed
    this.rNet = prng(seed ^ 0x1234567)
    this.rDisk = prng(seed ^ 0x2345678)
    this.rClient = prng(seed ^ 0x3456789)
    this.rNem = prng(seed ^ 0x456789a)
    this.rSwarm = p.swarmDraws
    this.trace = trace ? [] : undefined
    this.stats = {
      virtualMs: 0, events: 0, messagesSent: 0, messagesDropped: 0, elections: 0, leaderChanges: 0, partitions: 0, crashes: 0, snapshotsSent: 0, snapshotsInstalled: 0,
      compactions: 0, membershipChanges: 0, leaderTransfers: 0, opsOk: 0, opsFailed: 0, unknownOutcomes: 0, unknownApplied: 0, reads: 0, maxTerm: 0, profile: p.profile, linearizability: 'skipped'
    }
    for (let i = 1; i <= nodes; i++) this.initialVoters.push(`n${i}`)
    this.nextId = nodes + 1
  }

  /** A hash of every event in order: equal hashes, equal runs. */
  get traceHash (): string { return (this.traceH >>> 0).toString(16) }

  at (time: number, run: () => void): void { this.q.push({ time, seq: this.seq++, run }) }

  note (s: string): void {
    let h = this.traceH
    for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193)
    this.traceH = Math.imul(h ^ 10, 0x01000193)
    this.trace?.push(`${this.now} ${s}`)
  }

  violate (s: string): void {
    this.violations.push(`t=${this.now}: ${s}`)
    this.note(`VIOLATION ${s}`)
  }

  members (): SimNode[] { return [...this.nodes.values()].filter(n => !n.removed) }
  liveMembers (): SimNode[] { return this.members().filter(n => n.alive) }
  leaderNode (): SimNode | undefined {
    let best: SimNode | undefined
    for (const n of this.nodes.values()) if (n.alive && n.core.role === 'leader' && (best === undefined || n.core.term > best.core.term)) best = n
    return best
  }

  private newCore (n: SimNode): RaftCore {
    const p = this.p
    return p.createCore({
      id: n.id,
      storage: n.disk,
      electionTicks: ELECTION_TICKS,
      heartbeatTicks: 2,
      seed: (p.seed * 31 + n.incarnation * 7919 + hashId(n.id)) >>> 0,
      maxSizePerMsg: p.maxSizePerMsg,
      maxInflightMsgs: p.maxInflightMsgs,
      maxUncommittedBytes: 1 << 20,
      ...p.core
    })
  }

  addNode (id: NodeId): SimNode {
    const disk = new MemoryStorage({ voters: this.initialVoters })
    const skew = this.p.faults.clockSkew ? 0.7 + this.rSwarm() * 0.6 : 1
    const n: SimNode = {
      id, alive: true, removed: false, incarnation: 0, disk, core: undefined as unknown as RaftCore, sm: this.workload.createStateMachine(), applied: 0, writing: false,
      slowUntil: 0, tickMs: Math.max(1, Math.round(TICK_MS * skew)), waiting: new Map(), reads: new Map(), readyReads: [], wasLeaderTerm: 0, checkedCommit: 0
    }
    n.core = this.newCore(n)
    this.nodes.set(id, n)
    this.scheduleTick(n)
    return n
  }

  private scheduleTick (n: SimNode): void {
    const inc = n.incarnation
    this.at(this.now + n.tickMs, () => {
      if (!n.alive || n.incarnation !== inc) return
      this.guard(n, () => { n.core.tick() })
      this.drive(n)
      this.scheduleTick(n)
    })
  }

  // ------------------------------------------------------------ network

  private deliver (m: Message): void {
    const stats = this.stats
    stats.messagesSent++
    if (this.cut.has(`${m.from}>${m.to}`) || this.rNet() < this.p.pDrop) {
      stats.messagesDropped++
      if (m.type === 'snap') {
        // The transport reports a failed snapshot stream (as a libp2p stream reset would).
        const src = this.nodes.get(m.from)
        if (src?.alive === true) { src.core.reportSnapshot(m.to, false); this.drive(src) }
      }
      return
    }
    if (m.type === 'snap') stats.snapshotsSent++
    const copies = this.rNet() < this.p.pDup ? 2 : 1
    for (let c = 0; c < copies; c++) {
      const delay = 1 + Math.floor(this.rNet() * 4) + (this.rNet() < this.p.pLongDelay ? Math.floor(this.rNet() * 200) : 0)
      this.at(this.now + delay, () => {
        const dst = this.nodes.get(m.to)
        if (dst === undefined || !dst.alive) return
        if (this.cut.has(`${m.from}>${m.to}`)) { stats.messagesDropped++; return }
        this.note(`recv ${m.to}<${m.from} ${m.type} t${m.term} i${m.index ?? ''} n${m.entries?.length ?? ''}${m.reject === true ? ' rej' : ''}`)
        this.guard(dst, () => { dst.core.step(m) })
        this.drive(dst)
      })
    }
  }

  // ------------------------------------------------------------ node host loop

  /** A core that throws has detected a broken invariant (e.g. a conflict below its commit index). */
  guard (n: SimNode, f: () => void): void {
    try {
      f()
    } catch (err) {
      if (err instanceof ProposalDroppedError) throw err
      this.violate(`${n.id} failed: ${(err as Error).name}: ${errorMessage(err)}`)
    }
  }

  drive (n: SimNode): void {
    this.hooks.observe(n)
    if (!n.alive || n.writing || !n.core.hasReady()) return
    const rd = n.core.ready()
    for (const m of rd.earlyMessages) this.deliver(m)
    if (rd.entries.length > 0 || rd.hardState !== undefined || rd.snapshot !== undefined) {
      n.writing = true
      const inc = n.incarnation
      const slow = this.now < n.slowUntil
      const latency = slow ? 20 + Math.floor(this.rDisk() * 30) : this.p.diskMs * (this.rDisk() < 0.9 ? 1 : 2 + this.rDisk() * 3)
      this.at(this.now + latency, () => {
        // A crash before this point loses the write: it was never synced.
        if (!n.alive || n.incarnation !== inc) return
        n.disk.write({ entries: rd.entries, hardState: rd.hardState, snapshot: rd.snapshot })
        this.finish(n, rd)
      })
    } else {
      this.finish(n, rd)
    }
  }

  private finish (n: SimNode, rd: Ready): void {
    n.writing = false
    for (const m of rd.messages) this.deliver(m)
    if (rd.snapshot !== undefined) this.installSnapshot(n, rd.snapshot)
    for (const e of rd.committedEntries) this.applyEntry(n, e)
    for (const rs of rd.readStates) {
      const p = n.reads.get(rs.context)
      if (p === undefined) continue
      n.reads.delete(rs.context)
      n.readyReads.push({ index: rs.index, p })
    }
    n.core.advance()
    this.serveReads(n)
    this.maybeCompact(n)
    this.drive(n)
  }

  private installSnapshot (n: SimNode, s: Snapshot): void {
    this.stats.snapshotsInstalled++
    n.sm.restore(s.data)
    n.applied = s.meta.index
    this.note(`install ${n.id} snap@${s.meta.index}`)
  }

  private applyEntry (n: SimNode, e: Entry): void {
    if (e.index !== n.applied + 1) this.violate(`${n.id} applied ${e.index} after ${n.applied}`)
    n.applied = e.index
    const digest = `${e.term}:${e.type}:${e.ctx ?? ''}:${e.change?.type ?? ''}${e.change?.node ?? ''}`
    const prior = this.committed.get(e.index)
    if (prior === undefined) this.committed.set(e.index, digest)
    else if (prior !== digest) this.violate(`state machine safety: ${n.id} applied ${digest} at ${e.index}, another node applied ${prior}`)
    if (e.type === 'conf' && e.change !== undefined) this.onConfApplied(n, e.change)
    const result = e.type === 'normal' && e.data.byteLength > 0 ? n.sm.apply(e) : undefined
    if (e.ctx !== undefined) {
      this.appliedCtx.add(e.ctx)
      const p = n.waiting.get(e.ctx)
      if (p !== undefined) {
        n.waiting.delete(e.ctx)
        this.respond(p, this.workload.output(result, p.op.input as I))
      }
    }
  }

  private serveReads (n: SimNode): void {
    if (n.readyReads.length === 0) return
    const keep: Array<{ index: number, p: Pending }> = []
    for (const r of n.readyReads) {
      if (r.index <= n.applied) this.respond(r.p, this.workload.read(n.sm, r.p.op.input as I))
      else keep.push(r)
    }
    n.readyReads = keep
  }

  private maybeCompact (n: SimNode): void {
    const snap = n.disk.snapshot()
    // Only what is durably committed here may be compacted.
    if (n.applied - snap.meta.index < this.p.snapshotEvery || n.applied > n.disk.lastIndex()) return
    const term = n.disk.term(n.applied)
    n.disk.compactTo({ meta: { index: n.applied, term, conf: n.core.confState() }, data: n.sm.snapshot() })
    this.stats.compactions++
  }

  private onConfApplied (n: SimNode, c: ConfChange): void {
    if (n.core.role === 'leader' || n.core.lead === n.id) this.stats.membershipChanges++
    if (c.type === 'removeNode' && c.node === n.id) n.removed = true
    const target = this.nodes.get(c.node)
    if (c.type === 'removeNode' && target !== undefined) target.removed = true
  }

  // ------------------------------------------------------------ crash / restart

  crash (n: SimNode): void {
    if (!n.alive) return
    n.alive = false
    n.incarnation++
    n.writing = false
    n.waiting.clear()
    n.reads.clear()
    n.readyReads = []
    this.stats.crashes++
    this.note(`crash ${n.id}`)
  }

  restart (n: SimNode): void {
    if (n.alive) return
    n.alive = true
    n.incarnation++
    const snap = n.disk.snapshot()
    n.sm = this.workload.createStateMachine()
    if (snap.meta.index > 0) n.sm.restore(snap.data)
    n.applied = snap.meta.index
    n.core = this.newCore(n)
    n.wasLeaderTerm = 0
    n.checkedCommit = 0
    this.note(`restart ${n.id}`)
    this.scheduleTick(n)
  }

  /** Heals every partition (the liveness phase, and the nemesis's own heals). */
  heal (): void { this.cut.clear() }

  // ------------------------------------------------------------ clients

  private respond (p: Pending, out: O): void {
    const op = p.op as Operation<I, O>
    this.at(this.now + 1 + Math.floor(this.rNet() * 3), () => {
      if (op.return !== -1) return
      if (op.client === -1) {
        op.return = this.now
        if (this.probe !== undefined) this.probe.done = true
        this.note('probe committed')
        return
      }
      op.output = out
      op.return = this.now
      this.stats.opsOk++
      if (this.workload.isRead(op.input)) this.stats.reads++
      this.history.push(op)
      this.clientDone(op.client as number)
    })
  }

  private clientDone (client: number): void {
    this.outstanding--
    if (this.faultPhase || this.opsIssued < this.p.steps) this.at(this.now + Math.floor(this.rClient() * 20), () => { this.issue(client) })
  }

  /** Client `client` issues its next operation to the leader (70%) or a random live member. */
  issue (client: number): void {
    if (this.opsIssued >= this.p.steps) return
    this.opsIssued++
    this.outstanding++
    const input = this.workload.nextOp(client, this.rClient, this.opsIssued)
    const isRead = this.workload.isRead(input)
    const op: Operation<I, O> = { client, input, call: this.now, output: undefined, return: -1 }
    const candidates = this.liveMembers()
    const leader = this.leaderNode()
    const target = leader !== undefined && this.rClient() < 0.7 ? leader : candidates[Math.floor(this.rClient() * candidates.length)]
    this.at(this.now + CLIENT_TIMEOUT_MS, () => {
      if (op.return !== -1) return
      if (!isRead) {
        // Unknown outcome: it may still take effect.
        op.return = Infinity
        op.output = undefined
        this.history.push(op)
        this.stats.unknownOutcomes++
      } else {
        op.return = -2
      }
      this.clientDone(client)
    })
    if (target === undefined) return
    this.at(this.now + 1 + Math.floor(this.rNet() * 3), () => {
      const n = this.nodes.get(target.id)!
      if (!n.alive || op.return !== -1) return
      const ctx = `c${client}.${this.ctxSeq++}`
      this.opCtx.set(op, ctx)
      const p: Pending = { op, node: n.id }
      try {
        if (isRead) {
          n.reads.set(ctx, p)
          n.core.readIndex(ctx)
        } else {
          n.waiting.set(ctx, p)
          n.core.propose(this.workload.encode(input), ctx)
        }
      } catch (err) {
        n.reads.delete(ctx)
        n.waiting.delete(ctx)
        if (!(err instanceof ProposalDroppedError)) throw err
        // Definitely not executed: leave it out of the history, and don't count it.
        op.return = -3
        this.stats.opsFailed++
        this.opsIssued--
        this.at(this.now + 10 + Math.floor(this.rClient() * 30), () => { this.clientDone(client) })
      }
      this.drive(n)
    })
  }

  /** The liveness phase's write: proposed to the leader every 50 ms until it commits. */
  startProbe (): void {
    this.probe = { op: { client: -1, input: this.workload.probe(this.p.seed), call: this.now, output: undefined, return: -1 }, done: false }
    this.scheduleProbe()
  }

  private scheduleProbe (): void {
    this.at(this.now + 50, () => {
      const probe = this.probe
      if (probe === undefined || probe.done) return
      const leader = this.leaderNode()
      if (leader !== undefined) {
        const ctx = `probe.${this.ctxSeq++}`
        try {
          leader.core.propose(this.workload.encode(probe.op.input), ctx)
          leader.waiting.set(ctx, { op: probe.op, node: leader.id })
          this.drive(leader)
        } catch (err) {
          if (!(err instanceof ProposalDroppedError)) throw err
        }
      }
      this.scheduleProbe()
    })
  }
}

/** The default core factory. */
export const createRaftCore = (init: RaftCoreInit): RaftCore => new RaftCore(init)

function hashId (s: string): number {
  let h = 0x811c9dc5
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193)
  return h >>> 0
}
