import {
  DEFAULT_ELECTION_TICKS, DEFAULT_HEARTBEAT_TICKS, DEFAULT_MAX_INFLIGHT_MSGS, DEFAULT_MAX_SIZE_PER_MSG_BYTES
} from '../constants.js'
import { InvalidParametersError, ProposalDroppedError, RaftProtocolError } from '../errors.js'
import { applyChange, entrySize } from '../storage/memory-storage.js'
import type {
  ConfChange, ConfState, Entry, HardState, Message, MessageType, NodeId, RaftCoreInit, Ready, ReadState, Role, Snapshot
} from '../types.js'
import { Progress } from './progress.js'
import { hashString, prng } from './prng.js'
import { RaftLog } from './raft-log.js'

/** Messages a leader may send before its own write is durable (thesis §10.2.1). */
const EARLY_TYPES = new Set<MessageType>(['app', 'heartbeat', 'snap', 'timeoutNow', 'readIndexResp'])
const EMPTY = new Uint8Array(0)

interface ReadRequest { index: number, context: string, from: NodeId, acks: Set<NodeId> }

/** A snapshot of the core's state for hosts, tests and invariant checkers. */
export interface RaftStatus {
  id: NodeId
  role: Role
  term: number
  vote: NodeId
  leader: NodeId
  commit: number
  applied: number
  lastIndex: number
  conf: ConfState
  progress: Map<NodeId, { match: number, next: number, state: string }>
}

function positiveInt (name: string, v: number): number {
  if (!Number.isSafeInteger(v) || v < 1) throw new InvalidParametersError(name, v, 'a positive integer')
  return v
}

/**
 * The deterministic Raft state machine (≈ etcd's RawNode). No I/O, timers, clock or
 * promises: the host feeds it ticks and messages, and drains Ready / advance.
 */
export class RaftCore {
  readonly id: NodeId
  term = 0
  vote: NodeId = ''
  lead: NodeId = ''
  role: Role = 'follower'
  readonly log: RaftLog
  voters = new Set<NodeId>()
  learners = new Set<NodeId>()
  readonly prs = new Map<NodeId, Progress>()

  private readonly electionTicks: number
  private readonly heartbeatTicks: number
  private readonly preVote: boolean
  private readonly checkQuorum: boolean
  private readonly readOnly: 'safe' | 'lease'
  private readonly maxSizePerMsg: number
  private readonly maxInflightMsgs: number
  private readonly maxInflightBytes: number
  private readonly maxUncommittedBytes: number
  private readonly forwarding: boolean
  private readonly batchAppends: boolean
  /** Proposals were appended since the last broadcast (batchAppends). */
  private appendPending = false
  private readonly random: () => number

  private electionElapsed = 0
  private heartbeatElapsed = 0
  private randomizedElectionTimeout = 0
  private readonly votes = new Map<NodeId, boolean>()
  private msgs: Message[] = []
  private early: Message[] = []
  private readStates: ReadState[] = []
  private readQueue: ReadRequest[] = []
  private pendingReads: Message[] = []
  private committedInTerm = false
  leadTransferee: NodeId = ''
  private pendingConfIndex = 0
  private uncommittedBytes = 0
  private prevHard: HardState
  private outstanding: Ready | undefined

  constructor (init: RaftCoreInit) {
    if (typeof init.id !== 'string' || init.id === '') throw new InvalidParametersError('id', init.id, 'a non-empty string')
    this.id = init.id
    this.electionTicks = positiveInt('electionTicks', init.electionTicks ?? DEFAULT_ELECTION_TICKS)
    this.heartbeatTicks = positiveInt('heartbeatTicks', init.heartbeatTicks ?? DEFAULT_HEARTBEAT_TICKS)
    if (this.heartbeatTicks >= this.electionTicks) throw new InvalidParametersError('heartbeatTicks', this.heartbeatTicks, `less than electionTicks (${this.electionTicks})`)
    this.preVote = init.preVote ?? true
    this.checkQuorum = init.checkQuorum ?? true
    this.readOnly = init.readOnly ?? 'safe'
    if (this.readOnly === 'lease' && !this.checkQuorum) throw new InvalidParametersError('readOnly', 'lease', "'safe', or set checkQuorum: true (lease reads are only safe with CheckQuorum)")
    this.maxSizePerMsg = positiveInt('maxSizePerMsg', init.maxSizePerMsg ?? DEFAULT_MAX_SIZE_PER_MSG_BYTES)
    this.maxInflightMsgs = positiveInt('maxInflightMsgs', init.maxInflightMsgs ?? DEFAULT_MAX_INFLIGHT_MSGS)
    this.maxInflightBytes = init.maxInflightBytes ?? 0
    this.maxUncommittedBytes = init.maxUncommittedBytes ?? 0
    this.forwarding = init.proposalForwarding ?? true
    this.batchAppends = init.batchAppends ?? false
    this.random = prng(init.seed ?? hashString(init.id))

    this.log = new RaftLog(init.storage)
    const { hardState, conf } = init.storage.initialState()
    let voters = conf.voters
    if (voters.length === 0 && conf.learners.length === 0 && init.peers !== undefined) voters = init.peers
    this.voters = new Set(voters)
    this.learners = new Set(conf.learners)
    this.term = hardState.term
    this.vote = hardState.vote
    if (hardState.commit > 0) this.log.commitTo(Math.min(hardState.commit, this.log.lastIndex()))
    this.prevHard = { ...hardState }
    this.becomeFollower(this.term, '')
  }

  // ---------------------------------------------------------------- public API

  /** Advances logical time by one tick. */
  tick (): void {
    if (this.role === 'leader') this.tickLeader()
    else this.tickElection()
  }

  /** Starts an election now (skips waiting for the timeout). */
  campaign (): void { this.hup(false) }

  /** Proposes a normal entry; throws ProposalDroppedError if it cannot be accepted here. */
  propose (data: Uint8Array, ctx?: string): void {
    this.stepProp({ type: 'prop', from: this.id, to: this.id, term: this.term, entries: [{ index: 0, term: 0, type: 'normal', data, ctx }] }, true)
  }

  /** Proposes a single-server membership change. */
  proposeConfChange (change: ConfChange, ctx?: string): void {
    this.stepProp({ type: 'prop', from: this.id, to: this.id, term: this.term, entries: [{ index: 0, term: 0, type: 'conf', data: EMPTY, change, ctx }] }, true)
  }

  /** Requests a linearizable read point; the result arrives in Ready.readStates with `context`. */
  readIndex (context: string): void {
    const m: Message = { type: 'readIndex', from: this.id, to: this.id, term: this.term, context }
    if (this.role === 'leader') this.leaderReadIndex(m)
    else if (this.lead !== '') this.send({ type: 'readIndex', to: this.lead, context })
    else throw new ProposalDroppedError('no leader is known for the read')
  }

  /** Asks the leader to hand leadership to `to` (thesis §3.10). */
  transferLeader (to: NodeId): void {
    if (this.role === 'leader') this.leaderTransfer(to)
    else if (this.lead !== '') this.send({ type: 'transferLeader', to: this.lead, context: to })
    else throw new ProposalDroppedError('no leader is known to transfer leadership')
  }

  /** The transport could not reach `to`: fall back to probing. */
  reportUnreachable (to: NodeId): void {
    const pr = this.prs.get(to)
    if (this.role === 'leader' && pr !== undefined && pr.state === 'replicate') pr.becomeProbe()
  }

  /** The outcome of sending a snapshot to `to`. */
  reportSnapshot (to: NodeId, ok: boolean): void {
    const pr = this.prs.get(to)
    if (this.role !== 'leader' || pr === undefined || pr.state !== 'snapshot') return
    if (!ok) pr.pendingSnapshot = 0
    pr.becomeProbe()
    pr.probeSent = true
  }

  /** Processes a message from another node. Messages with a bad shape are ignored. */
  step (m: Message): void {
    if (m.to !== this.id || m.from === this.id) return
    if (m.term > this.term) {
      if (m.type === 'vote' || m.type === 'preVote') {
        const force = m.context === 'transfer'
        const inLease = this.checkQuorum && this.lead !== '' && this.electionElapsed < this.electionTicks
        // A live leader is heard from: ignore disruptive (pre)votes (thesis §4.2.3).
        if (!force && inLease) return
      }
      if (m.type === 'preVote' || (m.type === 'preVoteResp' && m.reject !== true)) {
        // A pre-vote never changes terms; a granted response carries the future term.
      } else if (m.type === 'app' || m.type === 'heartbeat' || m.type === 'snap') {
        this.becomeFollower(m.term, m.from)
      } else {
        this.becomeFollower(m.term, '')
      }
    } else if (m.term < this.term) {
      if ((this.checkQuorum || this.preVote) && (m.type === 'heartbeat' || m.type === 'app')) {
        // Tell a stale leader about the new term so it steps down (and a pre-voting node isn't stuck).
        this.send({ type: 'appResp', to: m.from })
      } else if (m.type === 'preVote') {
        this.send({ type: 'preVoteResp', to: m.from, reject: true })
      }
      return
    }

    switch (m.type) {
      case 'vote':
      case 'preVote': {
        const resp = m.type === 'vote' ? 'voteResp' : 'preVoteResp'
        if (this.mayGrantVote(m) && this.candidateUpToDate(m)) {
          this.send({ type: resp, to: m.from, term: m.term, reject: false })
          if (m.type === 'vote') {
            this.electionElapsed = 0
            this.vote = m.from
          }
        } else {
          this.send({ type: resp, to: m.from, reject: true })
        }
        return
      }
    }
    if (this.role === 'leader') this.stepLeader(m)
    else if (this.role === 'follower') this.stepFollower(m)
    else this.stepCandidate(m)
  }

  hasReady (): boolean {
    if (this.outstanding !== undefined) return false
    return this.appendPending || this.msgs.length > 0 || this.early.length > 0 || this.log.unstable.length > 0 ||
      this.log.unstableSnapshot !== undefined || this.readStates.length > 0 ||
      this.log.hasNextCommitted() || !this.hardEqual(this.hardState())
  }

  /** Takes the work for the host. Call advance() after doing it, before the next ready(). */
  ready (): Ready {
    if (this.outstanding !== undefined) throw new RaftProtocolError('ready() called again before advance()')
    if (this.appendPending) {
      this.appendPending = false
      if (this.role === 'leader') this.bcastAppend()
    }
    const hs = this.hardState()
    const changed = !this.hardEqual(hs)
    const entries = this.log.unstable.slice()
    const rd: Ready = {
      role: this.role,
      leader: this.lead,
      term: this.term,
      hardState: changed ? hs : undefined,
      entries,
      snapshot: this.log.unstableSnapshot,
      committedEntries: this.log.nextCommitted(),
      earlyMessages: this.early,
      messages: this.msgs,
      readStates: this.readStates,
      mustSync: entries.length > 0 || hs.term !== this.prevHard.term || hs.vote !== this.prevHard.vote || this.log.unstableSnapshot !== undefined
    }
    this.early = []
    this.msgs = []
    this.readStates = []
    this.outstanding = rd
    return rd
  }

  /** The host persisted, sent and applied the last Ready. */
  advance (): void {
    const rd = this.outstanding
    if (rd === undefined) throw new RaftProtocolError('advance() called without an outstanding ready()')
    this.outstanding = undefined
    if (rd.snapshot !== undefined) {
      this.log.stableSnapTo(rd.snapshot.meta.index)
      this.log.appliedTo(rd.snapshot.meta.index)
    }
    const last = rd.entries.at(-1)
    if (last !== undefined) this.log.stableTo(last.index, last.term)
    if (rd.hardState !== undefined) this.prevHard = rd.hardState
    for (const e of rd.committedEntries) {
      if (this.role === 'leader') this.uncommittedBytes = Math.max(0, this.uncommittedBytes - entrySize(e))
      this.log.appliedTo(e.index)
      if (e.type === 'conf' && e.change !== undefined) this.applyConfChange(e.change)
    }
    if (this.role === 'leader') {
      const self = this.prs.get(this.id)
      if (self !== undefined && self.maybeUpdate(this.log.stableIndex()) && this.maybeCommit()) this.bcastAppend()
    }
  }

  hardState (): HardState {
    return { term: this.term, vote: this.vote, commit: this.log.committed }
  }

  confState (): ConfState {
    return { voters: [...this.voters], learners: [...this.learners] }
  }

  status (): RaftStatus {
    const progress = new Map<NodeId, { match: number, next: number, state: string }>()
    for (const [id, pr] of this.prs) progress.set(id, { match: pr.match, next: pr.next, state: pr.state })
    return {
      id: this.id,
      role: this.role,
      term: this.term,
      vote: this.vote,
      leader: this.lead,
      commit: this.log.committed,
      applied: this.log.applied,
      lastIndex: this.log.lastIndex(),
      conf: this.confState(),
      progress
    }
  }

  /** A voter that may stand for election. */
  promotable (): boolean { return this.voters.has(this.id) }

  // ---------------------------------------------------------------- roles

  private reset (term: number): void {
    if (term !== this.term) {
      this.term = term
      this.vote = ''
    }
    this.lead = ''
    this.electionElapsed = 0
    this.heartbeatElapsed = 0
    this.randomizedElectionTimeout = this.electionTicks + Math.floor(this.random() * this.electionTicks)
    this.leadTransferee = ''
    this.votes.clear()
    this.readQueue = []
    this.pendingReads = []
    this.committedInTerm = false
    this.prs.clear()
  }

  private becomeFollower (term: number, lead: NodeId): void {
    this.reset(term)
    this.role = 'follower'
    this.lead = lead
  }

  private becomePreCandidate (): void {
    // No term change and no vote: a pre-election leaves no trace if it fails.
    this.role = 'preCandidate'
    this.votes.clear()
    this.lead = ''
  }

  private becomeCandidate (): void {
    this.reset(this.term + 1)
    this.vote = this.id
    this.role = 'candidate'
  }

  private becomeLeader (): void {
    this.reset(this.term)
    this.role = 'leader'
    this.lead = this.id
    const last = this.log.lastIndex()
    for (const id of [...this.voters, ...this.learners]) {
      const pr = new Progress(last + 1, this.learners.has(id), this.maxInflightMsgs, this.maxInflightBytes)
      if (id === this.id) {
        pr.match = this.log.stableIndex()
        pr.recentActive = true
        pr.state = 'replicate'
      }
      this.prs.set(id, pr)
    }
    // No config change until this term's no-op is applied: the fix for the single-server
    // membership bug (Ongaro, raft-dev 2015).
    this.pendingConfIndex = last
    this.uncommittedBytes = 0
    this.appendEntries([{ index: 0, term: 0, type: 'normal', data: EMPTY }])
    this.bcastAppend()
  }

  private hup (transfer: boolean): void {
    if (this.role === 'leader' || !this.promotable()) return
    if (this.hasUnappliedConfChanges()) return
    if (transfer) this.campaign2('transfer')
    else this.campaign2(this.preVote ? 'pre' : 'elect')
  }

  private hasUnappliedConfChanges (): boolean {
    if (!this.log.hasNextCommitted()) return false
    for (const e of this.log.nextCommitted()) if (e.type === 'conf') return true
    return false
  }

  private campaign2 (kind: 'pre' | 'elect' | 'transfer'): void {
    let type: MessageType
    let term: number
    if (kind === 'pre') {
      this.becomePreCandidate()
      type = 'preVote'
      term = this.term + 1
    } else {
      this.becomeCandidate()
      type = 'vote'
      term = this.term
    }
    if (this.poll(this.id, true) === 'won') {
      if (kind === 'pre') this.campaign2('elect')
      else this.becomeLeader()
      return
    }
    for (const v of this.voters) {
      if (v === this.id) continue
      this.send({ type, to: v, term, index: this.log.lastIndex(), logTerm: this.log.lastTerm(), context: kind === 'transfer' ? 'transfer' : undefined })
    }
  }

  private poll (id: NodeId, granted: boolean): 'won' | 'lost' | 'pending' {
    if (!this.votes.has(id)) this.votes.set(id, granted)
    let yes = 0
    let no = 0
    for (const v of this.voters) {
      const g = this.votes.get(v)
      if (g === true) yes++
      else if (g === false) no++
    }
    const q = Math.floor(this.voters.size / 2) + 1
    if (yes >= q) return 'won'
    if (no > this.voters.size - q) return 'lost'
    return 'pending'
  }

  // ---------------------------------------------------------------- ticks

  private tickElection (): void {
    this.electionElapsed++
    if (this.promotable() && this.electionElapsed >= this.randomizedElectionTimeout) {
      this.electionElapsed = 0
      this.hup(false)
    }
  }

  private tickLeader (): void {
    this.heartbeatElapsed++
    this.electionElapsed++
    if (this.electionElapsed >= this.electionTicks) {
      this.electionElapsed = 0
      if (this.checkQuorum) {
        if (!this.quorumActive()) {
          this.becomeFollower(this.term, '')
          return
        }
        for (const [id, pr] of this.prs) if (id !== this.id) pr.recentActive = false
      }
      if (this.leadTransferee !== '') this.leadTransferee = ''
    }
    for (const pr of this.prs.values()) {
      // A snapshot lost on the way leaves no answer: probe again after an election timeout.
      if (pr.state === 'snapshot' && ++pr.snapshotTicks > this.electionTicks) {
        pr.pendingSnapshot = 0
        pr.becomeProbe()
      }
    }
    if (this.heartbeatElapsed >= this.heartbeatTicks) {
      this.heartbeatElapsed = 0
      this.bcastHeartbeat(this.readQueue.at(-1)?.context)
    }
  }

  private quorumActive (): boolean {
    let active = 0
    for (const v of this.voters) {
      const pr = this.prs.get(v)
      if (v === this.id || pr?.recentActive === true) active++
    }
    return active >= Math.floor(this.voters.size / 2) + 1
  }

  // ---------------------------------------------------------------- leader

  private stepLeader (m: Message): void {
    const pr = this.prs.get(m.from)
    switch (m.type) {
      case 'prop':
        this.stepProp(m, false)
        return
      case 'readIndex':
        this.leaderReadIndex(m)
        return
      case 'transferLeader':
        if (m.context !== undefined) this.leaderTransfer(m.context)
        return
      case 'appResp': {
        if (pr === undefined) return
        pr.recentActive = true
        const index = m.index ?? 0
        if (m.reject === true) {
          let hint = m.rejectHint ?? 0
          if ((m.logTerm ?? 0) > 0) hint = this.log.findConflictByTerm(hint, m.logTerm ?? 0)
          if (pr.maybeDecrTo(index, hint)) {
            if (pr.state === 'replicate') pr.becomeProbe()
            this.sendAppend(m.from, true)
          }
          return
        }
        const oldPaused = pr.isPaused()
        if (!pr.maybeUpdate(index)) return
        if (pr.state === 'probe') {
          pr.becomeReplicate()
        } else if (pr.state === 'snapshot' && pr.match >= pr.pendingSnapshot) {
          pr.becomeProbe()
          pr.becomeReplicate()
        } else if (pr.state === 'replicate') {
          pr.inflights.freeLE(index)
        }
        if (this.maybeCommit()) this.bcastAppend()
        else if (oldPaused) this.sendAppend(m.from, true)
        while (this.sendAppend(m.from, false)) { /* pipeline until paused */ }
        if (m.from === this.leadTransferee && pr.match === this.log.lastIndex()) this.send({ type: 'timeoutNow', to: m.from })
        return
      }
      case 'heartbeatResp': {
        if (pr === undefined) return
        pr.recentActive = true
        pr.probeSent = false
        // Lost appends would keep the window full forever: let one through to find the gap.
        if (pr.state === 'replicate' && pr.inflights.full()) pr.inflights.freeFirst()
        if (pr.match < this.log.lastIndex()) this.sendAppend(m.from, true)
        if (m.context !== undefined && this.voters.has(m.from)) this.ackRead(m.context, m.from)
        return
      }
      default:
    }
  }

  private stepProp (m: Message, local: boolean): void {
    const drop = (reason: string): void => {
      if (local) throw new ProposalDroppedError(reason)
    }
    const entries = m.entries ?? []
    if (entries.length === 0) return
    if (this.role !== 'leader') {
      if (!local) return
      if (this.role !== 'follower') { drop(`an election is in progress (term ${this.term})`); return }
      if (this.lead === '') { drop('no leader is known'); return }
      if (!this.forwarding) { drop(`this node is a follower of ${this.lead} and proposal forwarding is off`); return }
      this.send({ type: 'prop', to: this.lead, entries })
      return
    }
    if (!this.prs.has(this.id)) { drop('this leader was removed from the cluster'); return }
    if (this.leadTransferee !== '') { drop(`leadership is being transferred to ${this.leadTransferee}`); return }
    let size = 0
    for (const e of entries) {
      size += entrySize(e)
      if (e.type === 'conf') {
        if (this.pendingConfIndex > this.log.applied) { drop('a configuration change is still pending'); return }
        const reason = this.checkChange(e.change)
        if (reason !== undefined) { drop(reason); return }
      }
    }
    if (this.maxUncommittedBytes > 0 && this.uncommittedBytes > 0 && this.uncommittedBytes + size > this.maxUncommittedBytes) {
      drop(`${this.uncommittedBytes} uncommitted bytes exceed maxUncommittedBytes ${this.maxUncommittedBytes}`)
      return
    }
    const fresh = entries.map(e => ({ ...e }))
    this.appendEntries(fresh)
    for (const e of fresh) if (e.type === 'conf') this.pendingConfIndex = e.index
    if (this.acksBeforePersist()) this.maybeCommit()
    // Batched: one append per follower for all proposals taken before the next ready().
    if (this.batchAppends) this.appendPending = true
    else this.bcastAppend()
  }

  private checkChange (c: ConfChange | undefined): string | undefined {
    if (c === undefined || typeof c.node !== 'string' || c.node === '') return 'the configuration change names no node'
    if (c.type === 'removeNode' || c.type === 'addLearner') {
      if (this.voters.has(c.node) && this.voters.size === 1) return `removing ${c.node} would leave no voters`
    }
    if (c.type === 'addLearner' && c.node === this.id) return 'the leader cannot demote itself (transfer leadership first)'
    return undefined
  }

  private appendEntries (entries: Entry[]): void {
    let index = this.log.lastIndex()
    for (const e of entries) {
      e.index = ++index
      e.term = this.term
      this.uncommittedBytes += entrySize(e)
    }
    this.log.append(entries)
    // A defective host would count the leader's own unsynced write (etcd#14370's shape).
    if (this.acksBeforePersist()) this.prs.get(this.id)?.maybeUpdate(index)
  }

  private maybeCommit (): boolean {
    const matches: number[] = []
    for (const v of this.voters) matches.push(this.prs.get(v)?.match ?? 0)
    if (matches.length === 0) return false
    matches.sort((a, b) => b - a)
    const idx = matches[Math.floor(matches.length / 2)]!
    if (idx <= this.log.committed) return false
    // Figure 8: only entries of the current term are committed by counting replicas.
    if (!this.mayCommitByCount(idx)) return false
    this.log.commitTo(idx)
    if (!this.committedInTerm) {
      this.committedInTerm = true
      const waiting = this.pendingReads
      this.pendingReads = []
      for (const r of waiting) this.leaderReadIndex(r)
    }
    return true
  }

  private sendAppend (to: NodeId, sendIfEmpty: boolean): boolean {
    const pr = this.prs.get(to)
    if (pr === undefined || to === this.id || pr.isPaused()) return false
    const prevIndex = pr.next - 1
    const last = this.log.lastIndex()
    if (prevIndex < this.log.firstIndex() - 1) return this.sendSnapshot(to, pr)
    const prevTerm = this.log.term(prevIndex)
    const entries = pr.next <= last ? this.log.slice(pr.next, last + 1, this.maxSizePerMsg) : []
    if (entries.length === 0 && !sendIfEmpty) return false
    this.send({ type: 'app', to, index: prevIndex, logTerm: prevTerm, entries, commit: this.log.committed })
    const lastSent = entries.at(-1)
    if (lastSent !== undefined && pr.state === 'replicate') {
      let bytes = 0
      for (const e of entries) bytes += entrySize(e)
      pr.next = lastSent.index + 1
      pr.inflights.add(lastSent.index, bytes)
    } else if (pr.state === 'probe') {
      pr.probeSent = true
    }
    return true
  }

  private sendSnapshot (to: NodeId, pr: Progress): boolean {
    if (!pr.recentActive) return false
    const snap: Snapshot = this.log.unstableSnapshot ?? this.log.storage.snapshot()
    if (snap.meta.index === 0) return false
    pr.becomeSnapshot(snap.meta.index)
    this.send({ type: 'snap', to, snapshot: snap })
    return true
  }

  private bcastAppend (): void {
    for (const id of this.prs.keys()) if (id !== this.id) this.sendAppend(id, true)
  }

  private bcastHeartbeat (context?: string): void {
    for (const [id, pr] of this.prs) {
      if (id === this.id) continue
      this.send({ type: 'heartbeat', to: id, commit: Math.min(pr.match, this.log.committed), context })
    }
  }

  private leaderReadIndex (m: Message): void {
    const context = m.context ?? ''
    // A new leader doesn't know the commit index until it commits in its term (§6.4) — a
    // single voter included: after a restart its stored commit index may lag what it had
    // acknowledged (found by the FileStorage restart test).
    if (!this.committedInTerm) {
      this.pendingReads.push(m)
      return
    }
    if (this.voters.size === 1 && this.voters.has(this.id)) {
      this.answerRead(m.from, this.log.committed, context)
      return
    }
    if (this.readOnly === 'lease') {
      this.answerRead(m.from, this.log.committed, context)
      return
    }
    this.readQueue.push({ index: this.log.committed, context, from: m.from, acks: new Set([this.id]) })
    this.bcastHeartbeat(context)
  }

  private ackRead (context: string, from: NodeId): void {
    const at = this.readQueue.findIndex(r => r.context === context)
    if (at < 0) return
    const req = this.readQueue[at]!
    req.acks.add(from)
    let n = 0
    for (const v of this.voters) if (req.acks.has(v)) n++
    if (n < Math.floor(this.voters.size / 2) + 1) return
    // Confirming this round confirms every earlier request too.
    const done = this.readQueue.splice(0, at + 1)
    for (const r of done) this.answerRead(r.from, r.index, r.context)
  }

  private answerRead (from: NodeId, index: number, context: string): void {
    if (from === this.id) this.readStates.push({ index, context })
    else this.send({ type: 'readIndexResp', to: from, index, context })
  }

  private leaderTransfer (to: NodeId): void {
    if (to === this.id || !this.voters.has(to) || this.leadTransferee === to) return
    this.leadTransferee = to
    this.electionElapsed = 0
    const pr = this.prs.get(to)
    if (pr === undefined) return
    if (pr.match === this.log.lastIndex()) this.send({ type: 'timeoutNow', to })
    else this.sendAppend(to, true)
  }

  // ---------------------------------------------------------------- follower / candidate

  private stepFollower (m: Message): void {
    switch (m.type) {
      case 'prop':
        this.stepProp(m, false)
        return
      case 'app':
        this.electionElapsed = 0
        this.lead = m.from
        this.handleAppend(m)
        return
      case 'heartbeat':
        this.electionElapsed = 0
        this.lead = m.from
        this.log.commitTo(Math.min(m.commit ?? 0, this.log.lastIndex()))
        this.send({ type: 'heartbeatResp', to: m.from, context: m.context })
        return
      case 'snap':
        this.electionElapsed = 0
        this.lead = m.from
        this.handleSnapshot(m)
        return
      case 'timeoutNow':
        this.hup(true)
        return
      case 'readIndexResp':
        this.readStates.push({ index: m.index ?? 0, context: m.context ?? '' })
        return
      default:
    }
  }

  private stepCandidate (m: Message): void {
    switch (m.type) {
      case 'app':
      case 'heartbeat':
      case 'snap':
        this.becomeFollower(m.term, m.from)
        this.stepFollower(m)
        return
      case 'voteResp':
      case 'preVoteResp': {
        if ((m.type === 'voteResp') !== (this.role === 'candidate')) return
        const r = this.poll(m.from, m.reject !== true)
        if (r === 'won') {
          if (this.role === 'preCandidate') this.campaign2('elect')
          else {
            this.becomeLeader()
          }
        } else if (r === 'lost') {
          this.becomeFollower(this.term, '')
        }
        return
      }
      default:
    }
  }

  private handleAppend (m: Message): void {
    const index = m.index ?? 0
    checkAppendEntries(m, index)
    if (index < this.log.committed) {
      this.send({ type: 'appResp', to: m.from, index: this.log.committed })
      return
    }
    const lastNew = this.log.maybeAppend(index, m.logTerm ?? 0, m.commit ?? 0, m.entries ?? [])
    if (lastNew !== undefined) {
      this.send({ type: 'appResp', to: m.from, index: lastNew })
      return
    }
    // Fast backtracking: skip every entry whose term is above the leader's prevLogTerm.
    const hintIndex = this.log.findConflictByTerm(Math.min(index, this.log.lastIndex()), m.logTerm ?? 0)
    this.send({ type: 'appResp', to: m.from, index, reject: true, rejectHint: hintIndex, logTerm: this.log.term(hintIndex) })
  }

  private handleSnapshot (m: Message): void {
    const s = m.snapshot
    if (s === undefined) return
    if (this.restore(s)) this.send({ type: 'appResp', to: m.from, index: this.log.lastIndex() })
    else this.send({ type: 'appResp', to: m.from, index: this.log.committed })
  }

  private restore (s: Snapshot): boolean {
    if (s.meta.index <= this.log.committed) return false
    if (this.log.matchTerm(s.meta.index, s.meta.term)) {
      this.log.commitTo(s.meta.index)
      return false
    }
    this.log.restore(s)
    this.voters = new Set(s.meta.conf.voters)
    this.learners = new Set(s.meta.conf.learners)
    return true
  }

  // ---------------------------------------------------------------- membership

  private applyConfChange (c: ConfChange): void {
    applyChange(this.voters, this.learners, c.type, c.node)
    if (this.role !== 'leader') return
    if (c.node === this.id && c.type !== 'addVoter') {
      // A removed or demoted leader steps down once the change is committed (thesis §4.2.2).
      this.becomeFollower(this.term, '')
      return
    }
    if (c.type === 'removeNode') {
      this.prs.delete(c.node)
    } else {
      const pr = this.prs.get(c.node)
      if (pr === undefined) {
        const fresh = new Progress(this.log.lastIndex() + 1, c.type === 'addLearner', this.maxInflightMsgs, this.maxInflightBytes)
        fresh.recentActive = true
        this.prs.set(c.node, fresh)
      } else {
        pr.isLearner = c.type === 'addLearner'
      }
    }
    if (this.leadTransferee !== '' && !this.voters.has(this.leadTransferee)) this.leadTransferee = ''
    if (this.maybeCommit()) this.bcastAppend()
    else this.bcastAppend()
  }

  // ---------------------------------------------------------------- rules a test subclass may break

  /**
   * One vote per term (Figure 2), and a PreVote may be granted while we know no leader or
   * for a higher term. Protected so that a test subclass can break it on purpose.
   */
  protected mayGrantVote (m: Message): boolean {
    return this.vote === m.from || (this.vote === '' && this.lead === '') || (m.type === 'preVote' && m.term > this.term)
  }

  /** §5.4.1: the candidate's log is at least as up to date as ours. */
  protected candidateUpToDate (m: Message): boolean {
    return this.log.isUpToDate(m.index ?? 0, m.logTerm ?? 0)
  }

  /** Figure 8: a leader commits by counting replicas only entries of its own term. */
  protected mayCommitByCount (index: number): boolean {
    return this.log.term(index) === this.term
  }

  /** Whether every message may leave before the write it depends on is durable (never, in a correct core). */
  protected acksBeforePersist (): boolean {
    return false
  }

  // ---------------------------------------------------------------- plumbing

  private send (m: Omit<Message, 'from' | 'term'> & { term?: number }): void {
    const full: Message = { ...m, from: this.id, term: m.term ?? this.term }
    if (this.acksBeforePersist() || (this.role === 'leader' && EARLY_TYPES.has(full.type))) this.early.push(full)
    else this.msgs.push(full)
  }

  private hardEqual (hs: HardState): boolean {
    return hs.term === this.prevHard.term && hs.vote === this.prevHard.vote && hs.commit === this.prevHard.commit
  }
}

/**
 * A peer's append must carry entries at prevIndex+1, +2, … with terms that never decrease,
 * from prevLogTerm up to the message's term; anything else would leave a gap or an
 * impossible log (found by the fuzz test: entry 2 after prevIndex 0).
 */
function checkAppendEntries (m: Message, index: number): void {
  let term = m.logTerm ?? 0
  const entries = m.entries ?? []
  for (let i = 0; i < entries.length; i++) {
    const e = entries[i]!
    if (e.index !== index + 1 + i || e.term < term || e.term > m.term) {
      throw new RaftProtocolError(`append from ${m.from} has entry ${e.index} (term ${e.term}) at position ${i} after prevIndex ${index} (prevLogTerm ${m.logTerm ?? 0}, message term ${m.term}): entries must be contiguous with non-decreasing terms no higher than the message's`)
    }
    term = e.term
  }
}

