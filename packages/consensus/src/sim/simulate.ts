import { checkLinearizability } from '../check/linearizability.js'
import { kvModel } from '../check/kv-model.js'
import type { KvInput, KvOperation, KvOutput } from '../check/kv-model.js'
import { prng } from '../core/prng.js'
import { RaftCore } from '../core/raft-core.js'
import { ProposalDroppedError } from '../errors.js'
import { MemoryStorage } from '../storage/memory-storage.js'
import type { ConfChange, Entry, Message, Mutation, NodeId, RaftCoreInit, Ready, Snapshot } from '../types.js'

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

export interface SimulateOptions {
  seed: number
  /**
   * Initial voters.
   * @default 5
   */
  nodes?: number
  /**
   * Client operations issued during the fault phase.
   * @default 300
   */
  steps?: number
  /**
   * Faults to inject: 'none', or a subset of SimFaults.
   * @default all on
   */
  faults?: Partial<SimFaults> | 'none'
  /** @default 10 */
  clients?: number
  /** @default 5 */
  keys?: number
  /**
   * The fault mix: 'mixed' (every fault), 'leader-churn' (leaders crash soon after election,
   * one entry per append), 'slow-storage' (slow disks and power loss), 'figure8' (leaders cut
   * off with a minority right after they win or advance their commit index, so entries of
   * several terms reach only some followers and old leaders return to replicate them: the
   * shape of the paper's Figure 8).
   * @default drawn from the seed: 50% mixed, 15% leader-churn, 15% slow-storage, 20% figure8
   */
  profile?: SimProfile | undefined
  /** Core options for every node (e.g. `{ preVote: false }`); timing options are the simulator's. */
  core?: Pick<RaftCoreInit, 'preVote' | 'checkQuorum' | 'readOnly' | 'maxInflightBytes'> | undefined
  /** Test-only: run every core with a deliberate defect. */
  mutation?: Mutation | undefined
  /**
   * Virtual ms after healing within which the cluster must commit a fresh write.
   * @default 10000
   */
  livenessMs?: number
  /**
   * Check the client history for linearizability.
   * @default true
   */
  checkLinearizability?: boolean
  /**
   * Checker time budget.
   * @default 10000
   */
  checkTimeoutMs?: number
  /**
   * Keep a text trace of every event (for replaying and diffing a failing seed).
   * @default false
   */
  trace?: boolean
  /** Stop at the first violation. @default true */
  stopOnViolation?: boolean
}

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
  linearizability: true | false | 'unknown' | 'skipped'
}

export interface SimulateResult {
  ok: boolean
  violations: string[]
  history: KvOperation[]
  stats: SimStats
  /** A hash of every event in order: equal hashes, equal runs. */
  traceHash: string
  trace?: string[] | undefined
}

const TICK_MS = 10
const ELECTION_TICKS = 10
const CLIENT_TIMEOUT_MS = 3000
const enc = new TextEncoder()
const dec = new TextDecoder()

interface Ev { time: number, seq: number, run: () => void }

/** A binary min-heap of events ordered by (time, seq): ties run in scheduling order. */
class EventQueue {
  private readonly h: Ev[] = []
  get size (): number { return this.h.length }
  push (e: Ev): void {
    const h = this.h
    h.push(e)
    let i = h.length - 1
    while (i > 0) {
      const p = (i - 1) >> 1
      if (less(h[p]!, h[i]!)) break
      ;[h[p], h[i]] = [h[i]!, h[p]!]
      i = p
    }
  }

  pop (): Ev | undefined {
    const h = this.h
    const top = h[0]
    const last = h.pop()
    if (h.length > 0 && last !== undefined) {
      h[0] = last
      let i = 0
      for (;;) {
        const l = 2 * i + 1
        const r = l + 1
        let m = i
        if (l < h.length && less(h[l]!, h[m]!)) m = l
        if (r < h.length && less(h[r]!, h[m]!)) m = r
        if (m === i) break
        ;[h[m], h[i]] = [h[i]!, h[m]!]
        i = m
      }
    }
    return top
  }
}
function less (a: Ev, b: Ev): boolean { return a.time < b.time || (a.time === b.time && a.seq < b.seq) }

interface Pending { op: KvOperation, node: NodeId }

interface SimNode {
  id: NodeId
  alive: boolean
  removed: boolean
  incarnation: number
  disk: MemoryStorage
  core: RaftCore
  kv: Map<string, string>
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

function encodeKv (input: KvInput): Uint8Array { return enc.encode(JSON.stringify(input)) }

/**
 * Applies one entry. A forwarded proposal can be duplicated by the network and appended
 * twice, so the state machine applies each request id once (client sessions, thesis §6.3).
 */
function applyKv (kv: Map<string, string>, data: Uint8Array, ctx: string | undefined): KvOutput {
  if (data.byteLength === 0) return {}
  if (ctx !== undefined) {
    const key = `\u0000ctx:${ctx}`
    if (kv.has(key)) return JSON.parse(kv.get(key)!) as KvOutput
  }
  const out = applyOp(kv, data)
  if (ctx !== undefined) kv.set(`\u0000ctx:${ctx}`, JSON.stringify(out))
  return out
}

function applyOp (kv: Map<string, string>, data: Uint8Array): KvOutput {
  const input = JSON.parse(dec.decode(data)) as KvInput
  switch (input.op) {
    case 'put': kv.set(input.key, input.value); return {}
    case 'append': kv.set(input.key, (kv.get(input.key) ?? '') + input.value); return {}
    case 'cas': {
      const ok = kv.get(input.key) === input.expected
      if (ok) kv.set(input.key, input.value)
      return { ok }
    }
    default: return { value: kv.get(input.key) }
  }
}

function snapshotKv (kv: Map<string, string>): Uint8Array { return enc.encode(JSON.stringify([...kv])) }
function restoreKv (data: Uint8Array): Map<string, string> {
  if (data.byteLength === 0) return new Map()
  return new Map(JSON.parse(dec.decode(data)) as Array<[string, string]>)
}

/**
 * Runs one seeded world: nodes, a network and disks under faults, clients issuing key-value
 * operations; checks Raft's safety properties continuously, liveness after healing, and
 * the linearizability of the client history. The same seed gives the same run.
 */
export function simulate (options: SimulateOptions): SimulateResult {
  const seed = options.seed >>> 0
  const nNodes = options.nodes ?? 5
  const steps = options.steps ?? 300
  const nClients = options.clients ?? 10
  const nKeys = options.keys ?? 5
  const livenessMs = options.livenessMs ?? 10_000
  const stopOnViolation = options.stopOnViolation ?? true
  const all: SimFaults = { drop: true, duplicate: true, delay: true, partitions: true, crashes: true, slowDisks: true, clockSkew: true, membership: true, snapshots: true }
  const faults: SimFaults = options.faults === 'none'
    ? { drop: false, duplicate: false, delay: false, partitions: false, crashes: false, slowDisks: false, clockSkew: false, membership: false, snapshots: false }
    : { ...all, ...options.faults }

  // Independent streams per subsystem, so that changing one does not reshuffle the others.
  const rNet = prng(seed ^ 0x1234567)
  const rDisk = prng(seed ^ 0x2345678)
  const rClient = prng(seed ^ 0x3456789)
  const rNem = prng(seed ^ 0x456789a)
  const rSwarm = prng(seed ^ 0x56789ab)

  // Swarm testing: every seed draws its own fault intensities.
  const pDrop = faults.drop ? rSwarm() * 0.15 : 0
  const pDup = faults.duplicate ? rSwarm() * 0.05 : 0
  const pLongDelay = faults.delay ? rSwarm() * 0.1 : 0
  // Profiles: most seeds mix every fault; some churn leaders fast (the shape of the paper's
  // Figure 8, as in the MIT 6.5840 tester); some have slow storage and lose power.
  const pr = rSwarm()
  const profile: SimProfile = options.profile ?? (!faults.crashes ? 'mixed' : pr < 0.5 ? 'mixed' : pr < 0.65 ? 'leader-churn' : pr < 0.8 ? 'slow-storage' : faults.partitions ? 'figure8' : 'mixed')
  const churny = profile === 'leader-churn' || profile === 'figure8'
  const nemesisEveryMs = churny ? 60 + Math.floor(rSwarm() * 100) : 80 + Math.floor(rSwarm() * 250)
  const diskMs = profile === 'slow-storage' ? 5 + rSwarm() * 20 : 0.2 + rSwarm() * 4
  // figure8: exactly one entry per append and one append in flight, so that a returning
  // leader's earlier-term entries and its own no-op reach a follower in separate messages.
  const maxSizePerMsg = profile === 'figure8' ? 1 : profile === 'leader-churn' ? 128 : [128, 512, 4096][Math.floor(rSwarm() * 3)]!
  const maxInflightMsgs = churny ? 1 : [1, 4, 16, 256][Math.floor(rSwarm() * 4)]!
  // figure8: how often a new leader is cut off with a minority, and how often a leader is cut
  // off right after its commit index advances.
  const pIsolateOnWin = profile === 'figure8' ? 0.3 + rSwarm() * 0.5 : 0
  const pIsolateOnCommit = profile === 'figure8' ? 0.05 + rSwarm() * 0.3 : 0
  const snapshotEvery = faults.snapshots ? 10 + Math.floor(rSwarm() * 40) : 1_000_000

  const stats: SimStats = {
    virtualMs: 0, events: 0, messagesSent: 0, messagesDropped: 0, elections: 0, leaderChanges: 0, partitions: 0, crashes: 0, snapshotsSent: 0, snapshotsInstalled: 0,
    compactions: 0, membershipChanges: 0, leaderTransfers: 0, opsOk: 0, opsFailed: 0, unknownOutcomes: 0, unknownApplied: 0, reads: 0, maxTerm: 0, profile: 'mixed', linearizability: 'skipped'
  }
  stats.profile = profile
  const violations: string[] = []
  const trace: string[] | undefined = options.trace === true ? [] : undefined
  let traceH = 0x811c9dc5
  const note = (s: string): void => {
    for (let i = 0; i < s.length; i++) traceH = Math.imul(traceH ^ s.charCodeAt(i), 0x01000193)
    traceH = Math.imul(traceH ^ 10, 0x01000193)
    trace?.push(`${now} ${s}`)
  }
  const violate = (s: string): void => {
    violations.push(`t=${now}: ${s}`)
    note(`VIOLATION ${s}`)
  }

  const q = new EventQueue()
  let seq = 0
  let now = 0
  const at = (time: number, run: () => void): void => { q.push({ time, seq: seq++, run }) }

  const initialVoters: NodeId[] = []
  for (let i = 1; i <= nNodes; i++) initialVoters.push(`n${i}`)
  let nextId = nNodes + 1
  const nodes = new Map<NodeId, SimNode>()
  /** Directional links cut: "a>b" means a cannot reach b. */
  const cut = new Set<string>()
  const committed = new Map<number, string>()
  /** index → entry term, and the term of the node that first saw it committed (≥ the term it was committed in). */
  const committedTerms = new Map<number, { term: number, by: number }>()
  const opCtx = new Map<KvOperation, string>()
  const appliedCtx = new Set<string>()
  const leaders = new Map<number, NodeId>()
  const history: KvOperation[] = []
  let lastLeader: NodeId = ''

  const members = (): SimNode[] => [...nodes.values()].filter(n => !n.removed)
  const liveMembers = (): SimNode[] => members().filter(n => n.alive)
  const leaderNode = (): SimNode | undefined => {
    let best: SimNode | undefined
    for (const n of nodes.values()) if (n.alive && n.core.role === 'leader' && (best === undefined || n.core.term > best.core.term)) best = n
    return best
  }

  const newCore = (n: SimNode): RaftCore => new RaftCore({
    id: n.id,
    storage: n.disk,
    electionTicks: ELECTION_TICKS,
    heartbeatTicks: 2,
    seed: (seed * 31 + n.incarnation * 7919 + hashId(n.id)) >>> 0,
    maxSizePerMsg,
    maxInflightMsgs,
    maxUncommittedBytes: 1 << 20,
    ...options.core,
    mutation: options.mutation
  })

  const addNode = (id: NodeId): SimNode => {
    const disk = new MemoryStorage({ voters: initialVoters })
    const skew = faults.clockSkew ? 0.7 + rSwarm() * 0.6 : 1
    const n: SimNode = {
      id, alive: true, removed: false, incarnation: 0, disk, core: undefined as unknown as RaftCore, kv: new Map(), applied: 0, writing: false,
      slowUntil: 0, tickMs: Math.max(1, Math.round(TICK_MS * skew)), waiting: new Map(), reads: new Map(), readyReads: [], wasLeaderTerm: 0, checkedCommit: 0
    }
    n.core = newCore(n)
    nodes.set(id, n)
    scheduleTick(n)
    return n
  }

  function scheduleTick (n: SimNode): void {
    const inc = n.incarnation
    at(now + n.tickMs, () => {
      if (!n.alive || n.incarnation !== inc) return
      guard(n, () => { n.core.tick() })
      drive(n)
      scheduleTick(n)
    })
  }

  // ------------------------------------------------------------ network

  function deliver (m: Message): void {
    stats.messagesSent++
    if (cut.has(`${m.from}>${m.to}`) || rNet() < pDrop) {
      stats.messagesDropped++
      if (m.type === 'snap') {
        // The transport reports a failed snapshot stream (as a libp2p stream reset would).
        const src = nodes.get(m.from)
        if (src?.alive === true) { src.core.reportSnapshot(m.to, false); drive(src) }
      }
      return
    }
    if (m.type === 'snap') stats.snapshotsSent++
    const copies = rNet() < pDup ? 2 : 1
    for (let c = 0; c < copies; c++) {
      const delay = 1 + Math.floor(rNet() * 4) + (rNet() < pLongDelay ? Math.floor(rNet() * 200) : 0)
      at(now + delay, () => {
        const dst = nodes.get(m.to)
        if (dst === undefined || !dst.alive) return
        if (cut.has(`${m.from}>${m.to}`)) { stats.messagesDropped++; return }
        note(`recv ${m.to}<${m.from} ${m.type} t${m.term} i${m.index ?? ''} n${m.entries?.length ?? ''}${m.reject === true ? ' rej' : ''}`)
        guard(dst, () => { dst.core.step(m) })
        drive(dst)
      })
    }
  }

  // ------------------------------------------------------------ node host loop

  /** A core that throws has detected a broken invariant (e.g. a conflict below its commit index). */
  function guard (n: SimNode, f: () => void): void {
    try {
      f()
    } catch (err) {
      if (err instanceof ProposalDroppedError) throw err
      violate(`${n.id} failed: ${(err as Error).name}: ${(err as Error).message}`)
    }
  }

  function drive (n: SimNode): void {
    observe(n)
    if (!n.alive || n.writing || !n.core.hasReady()) return
    const rd = n.core.ready()
    for (const m of rd.earlyMessages) deliver(m)
    if (rd.entries.length > 0 || rd.hardState !== undefined || rd.snapshot !== undefined) {
      n.writing = true
      const inc = n.incarnation
      const slow = now < n.slowUntil
      const latency = slow ? 20 + Math.floor(rDisk() * 30) : diskMs * (rDisk() < 0.9 ? 1 : 2 + rDisk() * 3)
      at(now + latency, () => {
        // A crash before this point loses the write: it was never synced.
        if (!n.alive || n.incarnation !== inc) return
        n.disk.write({ entries: rd.entries, hardState: rd.hardState, snapshot: rd.snapshot })
        finish(n, rd)
      })
    } else {
      finish(n, rd)
    }
  }

  function finish (n: SimNode, rd: Ready): void {
    n.writing = false
    for (const m of rd.messages) deliver(m)
    if (rd.snapshot !== undefined) installSnapshot(n, rd.snapshot)
    for (const e of rd.committedEntries) applyEntry(n, e)
    for (const rs of rd.readStates) {
      const p = n.reads.get(rs.context)
      if (p === undefined) continue
      n.reads.delete(rs.context)
      n.readyReads.push({ index: rs.index, p })
    }
    n.core.advance()
    serveReads(n)
    maybeCompact(n)
    drive(n)
  }

  function installSnapshot (n: SimNode, s: Snapshot): void {
    stats.snapshotsInstalled++
    n.kv = restoreKv(s.data)
    n.applied = s.meta.index
    note(`install ${n.id} snap@${s.meta.index}`)
  }

  function applyEntry (n: SimNode, e: Entry): void {
    if (e.index !== n.applied + 1) violate(`${n.id} applied ${e.index} after ${n.applied}`)
    n.applied = e.index
    const digest = `${e.term}:${e.type}:${e.ctx ?? ''}:${e.change?.type ?? ''}${e.change?.node ?? ''}`
    const prior = committed.get(e.index)
    if (prior === undefined) committed.set(e.index, digest)
    else if (prior !== digest) violate(`state machine safety: ${n.id} applied ${digest} at ${e.index}, another node applied ${prior}`)
    if (e.type === 'conf' && e.change !== undefined) onConfApplied(n, e.change)
    const out = e.type === 'normal' ? applyKv(n.kv, e.data, e.ctx) : {}
    if (e.ctx !== undefined) {
      appliedCtx.add(e.ctx)
      const p = n.waiting.get(e.ctx)
      if (p !== undefined) {
        n.waiting.delete(e.ctx)
        respond(p, out)
      }
    }
  }

  function serveReads (n: SimNode): void {
    if (n.readyReads.length === 0) return
    const keep: Array<{ index: number, p: Pending }> = []
    for (const r of n.readyReads) {
      if (r.index <= n.applied) {
        const input = r.p.op.input
        respond(r.p, { value: n.kv.get(input.key) })
      } else keep.push(r)
    }
    n.readyReads = keep
  }

  function maybeCompact (n: SimNode): void {
    const snap = n.disk.snapshot()
    // Only what is durably committed here may be compacted.
    if (n.applied - snap.meta.index < snapshotEvery || n.applied > n.disk.lastIndex()) return
    const term = n.disk.term(n.applied)
    n.disk.compactTo({ meta: { index: n.applied, term, conf: n.core.confState() }, data: snapshotKv(n.kv) })
    stats.compactions++
  }

  function onConfApplied (n: SimNode, c: ConfChange): void {
    if (n.core.role === 'leader' || n.core.lead === n.id) stats.membershipChanges++
    if (c.type === 'removeNode' && c.node === n.id) {
      n.removed = true
    }
    const target = nodes.get(c.node)
    if (c.type === 'removeNode' && target !== undefined) target.removed = true
  }

  /** Continuous checks after every input to a node. */
  function observe (n: SimNode): void {
    const c = n.core
    if (c.term > stats.maxTerm) stats.maxTerm = c.term
    // Commit safety: once any node believes an index committed, its entry never changes,
    // whether or not anyone applied it yet.
    if (n.alive && c.log.committed > n.checkedCommit) {
      for (let i = Math.max(n.checkedCommit + 1, c.log.firstIndex()); i <= c.log.committed; i++) {
        const t = c.log.term(i)
        const prior = committedTerms.get(i)
        if (prior === undefined) committedTerms.set(i, { term: t, by: c.term })
        else if (prior.term !== t) { violate(`commit safety: ${n.id} committed term ${t} at ${i}, another node committed term ${prior.term}`); break }
      }
      n.checkedCommit = c.log.committed
      // figure8: the leader fails right after it advances its commit index, before the
      // appends that follow (its no-op, later entries, the new commit index) land.
      if (c.role === 'leader' && faultPhase && rNem() < pIsolateOnCommit) isolateWithMinority(n, 'after commit')
    }
    if (c.role === 'leader' && n.wasLeaderTerm !== c.term) {
      n.wasLeaderTerm = c.term
      stats.elections++
      const other = leaders.get(c.term)
      if (other !== undefined && other !== n.id) violate(`election safety: ${n.id} and ${other} both leaders in term ${c.term}`)
      leaders.set(c.term, n.id)
      if (lastLeader !== n.id) stats.leaderChanges++
      lastLeader = n.id
      note(`leader ${n.id} term ${c.term}`)
      if (profile === 'figure8' && faultPhase && rNem() < pIsolateOnWin) {
        // Cut off at once with a minority: its no-op and first entries reach only them.
        isolateWithMinority(n, 'new leader')
      }
      if (profile === 'leader-churn' && faultPhase && rNem() < 0.4) {
        // Crash some leaders within a few round trips of winning: uncommitted entries of
        // different terms pile up at the same indexes (Figure 8's precondition).
        const inc = n.incarnation
        if (rNem() < 0.5 && faults.partitions) {
          // Cut it off before its first appends land: they are lost in flight.
          at(now + Math.floor(rNem() * 3), () => {
            if (!faultPhase) return
            cut.clear()
            for (const o of members()) if (o.id !== n.id) { cut.add(`${n.id}>${o.id}`); cut.add(`${o.id}>${n.id}`) }
            stats.partitions++
            note(`partition isolate new leader ${n.id}`)
            at(now + 50 + Math.floor(rNem() * 300), () => { if (faultPhase) { heal(); note('heal') } })
          })
        } else {
          at(now + 1 + Math.floor(rNem() * 15), () => {
            if (n.incarnation !== inc || !n.alive || liveMembers().length <= Math.floor(members().length / 2) + 1) return
            crash(n)
            at(now + 10 + Math.floor(rNem() * 200), () => restart(n))
          })
        }
      }
      // Leader completeness: an entry committed in an earlier term is in the new leader's log.
      // (A leader of a lower term can still be elected late, from delayed vote grants; it owes
      // nothing to entries committed in later terms.)
      const first = c.log.firstIndex()
      for (const [i, ct] of committedTerms) {
        if (i < first || ct.by >= c.term) continue
        const t = c.log.term(i)
        if (t !== ct.term) {
          violate(`leader completeness: leader ${n.id} term ${c.term} has term ${t} at index ${i}, committed with term ${ct.term} by term ${ct.by}`)
          break
        }
      }
      checkLogMatching()
    }
  }

  /** Log matching: two logs with an entry of the same index and term agree on everything before it. */
  function checkLogMatching (): void {
    const live = [...nodes.values()].filter(x => x.alive)
    for (let a = 0; a < live.length; a++) {
      for (let b = a + 1; b < live.length; b++) {
        const la = live[a]!.core.log
        const lb = live[b]!.core.log
        const lo = Math.max(la.firstIndex(), lb.firstIndex())
        let i = Math.min(la.lastIndex(), lb.lastIndex())
        while (i >= lo && la.term(i) !== lb.term(i)) i--
        for (let j = i - 1; j >= lo; j--) {
          if (la.term(j) !== lb.term(j)) {
            violate(`log matching: ${live[a]!.id} and ${live[b]!.id} agree at ${i} but differ at ${j}`)
            return
          }
        }
      }
    }
  }

  // ------------------------------------------------------------ crash / restart

  function crash (n: SimNode): void {
    if (!n.alive) return
    n.alive = false
    n.incarnation++
    n.writing = false
    n.waiting.clear()
    n.reads.clear()
    n.readyReads = []
    stats.crashes++
    note(`crash ${n.id}`)
  }

  function restart (n: SimNode): void {
    if (n.alive) return
    n.alive = true
    n.incarnation++
    const snap = n.disk.snapshot()
    n.kv = restoreKv(snap.data)
    n.applied = snap.meta.index
    n.core = newCore(n)
    n.wasLeaderTerm = 0
    n.checkedCommit = 0
    note(`restart ${n.id}`)
    scheduleTick(n)
  }

  // ------------------------------------------------------------ clients

  let probe: { op: KvOperation, done: boolean } | undefined
  let opsIssued = 0
  let faultPhase = true
  let outstanding = 0
  let ctxSeq = 0

  function respond (p: Pending, out: KvOutput): void {
    const op = p.op
    at(now + 1 + Math.floor(rNet() * 3), () => {
      if (op.return !== -1) return
      if (op.client === -1) {
        op.return = now
        if (probe !== undefined) probe.done = true
        note('probe committed')
        return
      }
      op.output = out
      op.return = now
      stats.opsOk++
      if (op.input.op === 'get') stats.reads++
      history.push(op)
      clientDone(op.client as number)
    })
  }

  function clientDone (client: number): void {
    outstanding--
    if (faultPhase || opsIssued < steps) at(now + Math.floor(rClient() * 20), () => issue(client))
  }

  function issue (client: number): void {
    if (opsIssued >= steps && faultPhase) return
    if (!faultPhase && opsIssued >= steps) return
    opsIssued++
    outstanding++
    const key = `k${Math.floor(rClient() * nKeys)}`
    const r = rClient()
    const value = `${client}.${opsIssued}`
    let input: KvInput
    if (r < 0.35) input = { op: 'get', key }
    else if (r < 0.6) input = { op: 'put', key, value }
    else if (r < 0.8) input = { op: 'append', key, value: `,${value}` }
    else input = { op: 'cas', key, expected: rClient() < 0.5 ? undefined : `${Math.floor(rClient() * nClients)}.${Math.max(1, opsIssued - Math.floor(rClient() * 20))}`, value }
    const op: KvOperation = { client, input, call: now, output: undefined, return: -1 }
    const candidates = liveMembers()
    const leader = leaderNode()
    const target = leader !== undefined && rClient() < 0.7 ? leader : candidates[Math.floor(rClient() * candidates.length)]
    at(now + CLIENT_TIMEOUT_MS, () => {
      if (op.return !== -1) return
      if (input.op !== 'get') {
        // Unknown outcome: it may still take effect.
        op.return = Infinity
        op.output = undefined
        history.push(op)
        stats.unknownOutcomes++
      } else {
        op.return = -2
      }
      clientDone(client)
    })
    if (target === undefined) return
    at(now + 1 + Math.floor(rNet() * 3), () => {
      const n = nodes.get(target.id)!
      if (!n.alive || op.return !== -1) return
      const ctx = `c${client}.${ctxSeq++}`
      opCtx.set(op, ctx)
      const p: Pending = { op, node: n.id }
      try {
        if (input.op === 'get') {
          n.reads.set(ctx, p)
          n.core.readIndex(ctx)
        } else {
          n.waiting.set(ctx, p)
          n.core.propose(encodeKv(input), ctx)
        }
      } catch (err) {
        n.reads.delete(ctx)
        n.waiting.delete(ctx)
        if (!(err instanceof ProposalDroppedError)) throw err
        // Definitely not executed: leave it out of the history, and don't count it.
        op.return = -3
        stats.opsFailed++
        opsIssued--
        at(now + 10 + Math.floor(rClient() * 30), () => clientDone(client))
      }
      drive(n)
    })
  }

  // ------------------------------------------------------------ nemesis

  const heal = (): void => { cut.clear(); isolated.clear() }
  /** figure8: nodes cut off from every member except those in `reach`, each until its own time. */
  const isolated = new Map<NodeId, Set<NodeId>>()
  const recut = (): void => {
    cut.clear()
    for (const [id, reach] of isolated) {
      for (const o of nodes.keys()) if (o !== id && !reach.has(o)) { cut.add(`${id}>${o}`); cut.add(`${o}>${id}`) }
    }
  }

  /**
   * Cuts `n` off from all members but a random minority-minus-one (so `n` and its partners
   * never form a quorum), for 50-450 ms. Other nodes' isolations stay in force, so several
   * old leaders can be away at once and come back one by one.
   */
  function isolateWithMinority (n: SimNode, why: string): void {
    const others = members().filter(o => o.id !== n.id)
    const k = Math.floor(rNem() * Math.max(1, Math.floor((others.length + 1) / 2)))
    const reach = new Set(pick(others, k).map(o => o.id))
    isolated.set(n.id, reach)
    recut()
    stats.partitions++
    note(`isolate ${why} ${n.id} reach ${[...reach].join(',')}`)
    at(now + 50 + Math.floor(rNem() * 400), () => {
      if (!faultPhase || isolated.get(n.id) !== reach) return
      isolated.delete(n.id)
      recut()
      note(`rejoin ${n.id}`)
    })
  }

  /** figure8's periodic faults: crash a leader or a node now and then, keeping a quorum up. */
  function figure8Nemesis (): void {
    const live = liveMembers()
    if (live.length <= Math.floor(members().length / 2) + 1 || rNem() < 0.6) return
    const leader = leaderNode()
    const victim = leader !== undefined && rNem() < 0.5 ? leader : live[Math.floor(rNem() * live.length)]!
    crash(victim)
    at(now + 20 + Math.floor(rNem() * 300), () => restart(victim))
  }
  /** k distinct nodes chosen at random. */
  const pick = (from: SimNode[], k: number): SimNode[] => {
    const a = from.slice()
    for (let i = a.length - 1; i > 0; i--) {
      const j = Math.floor(rNem() * (i + 1))
      ;[a[i], a[j]] = [a[j]!, a[i]!]
    }
    return a.slice(0, k)
  }

  function nemesis (): void {
    if (!faultPhase) return
    if (profile === 'leader-churn') {
      churnLeader()
      return
    }
    if (profile === 'figure8') {
      figure8Nemesis()
      return
    }
    const r = rNem()
    const live = liveMembers()
    const all = members()
    if (faults.partitions && r < 0.3) {
      cut.clear()
      stats.partitions++
      const kind = rNem()
      const ids = all.map(n => n.id)
      if (kind < 0.3) {
        // Isolate the leader (or a random node).
        const victim = leaderNode()?.id ?? ids[Math.floor(rNem() * ids.length)]!
        for (const o of ids) if (o !== victim) { cut.add(`${victim}>${o}`); cut.add(`${o}>${victim}`) }
        note(`partition isolate ${victim}`)
      } else if (kind < 0.7) {
        const side = new Set(ids.filter(() => rNem() < 0.5))
        for (const a of ids) for (const b of ids) if (side.has(a) !== side.has(b)) cut.add(`${a}>${b}`)
        note(`partition halves ${[...side].join(',')}`)
      } else {
        // Asymmetric: some directed links fail.
        for (const a of ids) for (const b of ids) if (a !== b && rNem() < 0.3) cut.add(`${a}>${b}`)
        note(`partition asymmetric ${cut.size}`)
      }
      const dur = 100 + Math.floor(rNem() * 800)
      at(now + dur, () => { if (faultPhase) { heal(); note('heal') } })
    } else if (faults.crashes && r < 0.36) {
      // Power loss: several nodes at once lose what they had not synced.
      const k = profile === 'slow-storage' ? live.length : 1 + Math.floor(rNem() * live.length)
      for (const victim of pick(live, k)) {
        crash(victim)
        at(now + 20 + Math.floor(rNem() * 300), () => restart(victim))
      }
      note(`power loss ${k}`)
    } else if (faults.crashes && r < 0.5) {
      const pickLeader = rNem() < 0.4
      const victim = pickLeader ? (leaderNode() ?? live[Math.floor(rNem() * live.length)]) : live[Math.floor(rNem() * live.length)]
      if (victim !== undefined) {
        crash(victim)
        at(now + 20 + Math.floor(rNem() * 600), () => restart(victim))
      }
    } else if (faults.slowDisks && r < 0.6) {
      // A storage hiccup on one node or several (shared storage, noisy neighbours).
      const k = rNem() < 0.5 ? 1 : 1 + Math.floor(rNem() * live.length)
      const until = now + 200 + Math.floor(rNem() * 800)
      for (const victim of pick(live, k)) { victim.slowUntil = until; note(`slow disk ${victim.id}`) }
    } else if (faults.membership && r < 0.8) {
      changeMembership()
    } else if (faults.membership && r < 0.85) {
      const leader = leaderNode()
      const voters = leader !== undefined ? [...leader.core.voters].filter(v => v !== leader.id) : []
      const to = voters[Math.floor(rNem() * voters.length)]
      if (leader !== undefined && to !== undefined) {
        stats.leaderTransfers++
        note(`transfer ${leader.id}->${to}`)
        leader.core.transferLeader(to)
        drive(leader)
      }
    }
  }

  /** Crash the leader shortly after it was elected or took proposals; keep a quorum up. */
  function churnLeader (): void {
    const live = liveMembers()
    const leader = leaderNode()
    if (leader !== undefined && rNem() < 0.5 && live.length > Math.floor(members().length / 2) + 1) {
      crash(leader)
      at(now + 10 + Math.floor(rNem() * 300), () => restart(leader))
    } else if (rNem() < 0.1 && faults.partitions) {
      cut.clear()
      const ids = members().map(n => n.id)
      const victim = ids[Math.floor(rNem() * ids.length)]!
      for (const o of ids) if (o !== victim) { cut.add(`${victim}>${o}`); cut.add(`${o}>${victim}`) }
      stats.partitions++
      note(`partition isolate ${victim}`)
      at(now + 50 + Math.floor(rNem() * 300), () => { if (faultPhase) { heal(); note('heal') } })
    }
  }

  function changeMembership (): void {
    const leader = leaderNode()
    if (leader === undefined) return
    const voters = [...leader.core.voters]
    const learners = [...leader.core.learners]
    let change: ConfChange
    const r = rNem()
    if (learners.length > 0 && r < 0.6) {
      change = { type: 'addVoter', node: learners[0]! }
    } else if (voters.length > 3 && r < 0.8) {
      const removable = voters.filter(v => v !== leader.id)
      change = { type: 'removeNode', node: removable[Math.floor(rNem() * removable.length)]! }
    } else if (voters.length + learners.length < 7) {
      const id = `n${nextId++}`
      addNode(id)
      change = { type: 'addLearner', node: id }
    } else {
      return
    }
    try {
      leader.core.proposeConfChange(change)
      note(`confchange ${change.type} ${change.node}`)
    } catch (err) {
      if (!(err instanceof ProposalDroppedError)) throw err
    }
    drive(leader)
  }

  // ------------------------------------------------------------ run

  for (const id of initialVoters) addNode(id)
  for (let c = 0; c < nClients; c++) at(50 + Math.floor(rClient() * 100), () => issue(c))
  const scheduleNemesis = (): void => {
    at(now + nemesisEveryMs, () => {
      nemesis()
      if (faultPhase) scheduleNemesis()
    })
  }
  scheduleNemesis()

  const maxEvents = 400_000
  let healedAt = -1
  const stop = (): boolean => stopOnViolation && violations.length > 0

  while (!stop()) {
    const ev = q.pop()
    if (ev === undefined) break
    now = ev.time
    stats.events++
    ev.run()
    if (stats.events > maxEvents) { violate('event budget exhausted'); break }
    if (faultPhase && opsIssued >= steps) {
      // Heal everything: the liveness phase.
      faultPhase = false
      healedAt = now
      heal()
      note('liveness phase')
      for (const n of members()) { n.slowUntil = 0; if (!n.alive) restart(n) }
      for (const n of nodes.values()) if (n.removed && n.alive) crash(n)
      probe = { op: { client: -1, input: { op: 'put', key: '__probe', value: String(seed) }, call: now, output: undefined, return: -1 }, done: false }
      scheduleProbe()
    }
    if (!faultPhase && probe?.done === true && outstanding <= 0) break
    if (healedAt >= 0 && now > healedAt + livenessMs) {
      violate(`liveness: no commit within ${livenessMs} ms of healing (probe ${probe?.done === true ? 'done' : 'pending'}, ${outstanding} client ops outstanding; ${[...nodes.values()].map(n => `${n.id}${n.alive ? '' : '(down)'}${n.removed ? '(removed)' : ''} ${n.core.role} t${n.core.term} c${n.core.log.committed} a${n.applied} l${n.core.log.lastIndex()} v[${[...n.core.voters].join(',')}] L[${[...n.core.learners].join(',')}]`).join('; ')})`)
      break
    }
  }

  function scheduleProbe (): void {
    at(now + 50, () => {
      if (probe === undefined || probe.done) return
      const leader = leaderNode()
      if (leader !== undefined) {
        const ctx = `probe.${ctxSeq++}`
        try {
          leader.core.propose(encodeKv(probe.op.input), ctx)
          leader.waiting.set(ctx, { op: probe.op, node: leader.id })
          drive(leader)
        } catch (err) {
          if (!(err instanceof ProposalDroppedError)) throw err
        }
      }
      scheduleProbe()
    })
  }

  if (violations.length === 0) checkLogMatching()

  stats.virtualMs = now
  if (violations.length === 0 && options.checkLinearizability !== false) {
    // A timed-out write that no state machine applied by the end of the run was never
    // observed: it is equivalent to one placed after everything, so it is left out.
    const checked = history.filter(op => op.return !== Infinity || appliedCtx.has(opCtx.get(op) ?? ''))
    stats.unknownApplied = checked.filter(op => op.return === Infinity).length
    const result = checkLinearizability(kvModel, checked, { timeoutMs: options.checkTimeoutMs ?? 10_000 })
    stats.linearizability = result.ok
    if (result.ok === false) violate(`linearizability: history of key ${result.counterexample?.[0]?.input.key ?? '?'} is not linearizable`)
  }

  return { ok: violations.length === 0, violations, history, stats, traceHash: (traceH >>> 0).toString(16), trace }
}

function hashId (s: string): number {
  let h = 0x811c9dc5
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193)
  return h >>> 0
}
