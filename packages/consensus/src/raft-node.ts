import {
  DEFAULT_MAX_PROPOSAL_BYTES, DEFAULT_PROPOSAL_TIMEOUT_MS, DEFAULT_SNAPSHOT_THRESHOLD_ENTRIES, DEFAULT_TICK_MS
} from './constants.js'
import { RaftCore } from './core/raft-core.js'
import type { RaftStatus } from './core/raft-core.js'
import { InvalidParametersError, NodeStoppedError, PayloadTooLargeError, TimeoutError, errorMessage } from './errors.js'
import type { ConfChange, Entry, Logger, Message, NodeId, RaftCoreInit, RaftStorage, RaftTransport, Ready, StateMachine } from './types.js'

export interface RaftNodeInit extends Omit<RaftCoreInit, 'storage'> {
  /** Durable log and hard state (MemoryStorage here; a file WAL later). */
  storage: RaftStorage
  /** Carries messages to the other nodes. */
  transport: RaftTransport
  /** Receives committed entries in order. */
  stateMachine: StateMachine
  /**
   * Milliseconds per tick (election timeout = electionTicks × tickMs, randomised up to 2×).
   * @default 100
   */
  tickMs?: number
  /**
   * How long propose() and read() wait before rejecting with TimeoutError.
   * @default 5000
   */
  timeoutMs?: number
  /**
   * Applied entries beyond the last snapshot that trigger a new snapshot and log compaction.
   * @default 10000
   */
  snapshotThreshold?: number
  /**
   * Largest proposal payload accepted.
   * @default 1048576
   */
  maxProposalBytes?: number
  /** Optional logger; silent by default. */
  logger?: Logger
}

export interface ProposeOptions {
  signal?: AbortSignal
  /** Overrides init.timeoutMs for this call. */
  timeoutMs?: number
}

/** Detail of the `leader` event. */
export interface LeaderChange {
  leader: NodeId
  term: number
}

/** Detail of the `applied` event: the state machine has applied everything up to `index`. */
export interface AppliedChange {
  index: number
}

interface Waiter {
  resolve: (v: unknown) => void
  reject: (e: Error) => void
  timer: ReturnType<typeof setTimeout>
  cleanup: () => void
}

/** setImmediate where there is one (Node), else a zero timeout. */
const defer: (f: () => void) => void = typeof globalThis.setImmediate === 'function' ? f => { globalThis.setImmediate(f) } : f => { setTimeout(f, 0) }

function randomId (): string {
  const b = new Uint32Array(2)
  globalThis.crypto.getRandomValues(b)
  return b[0]!.toString(36) + b[1]!.toString(36)
}

const NOOP_LOGGER: Logger = { debug () {}, info () {}, warn () {}, error () {} }

/**
 * The async loop around RaftCore: ticks on a timer, steps inbound messages, and for each
 * Ready sends the leader's messages in parallel with persisting (thesis §10.2.1), persists
 * with one durability barrier per batch, sends the rest, applies committed entries to the
 * state machine, resolves propose() and read() promises, then advances.
 *
 * Events: `leader` (CustomEvent<LeaderChange>) whenever the known leader or term changes;
 * `applied` (CustomEvent<AppliedChange>) after each batch of committed entries (or a
 * snapshot) is applied, once the core has advanced (configuration changes included);
 * `failed` (CustomEvent<Error>) when storage fails beyond a full disk and the node stops.
 */
export class RaftNode extends EventTarget {
  readonly id: NodeId
  private readonly core: RaftCore
  private readonly storage: RaftStorage
  private readonly transport: RaftTransport
  private readonly sm: StateMachine
  private readonly tickMs: number
  private readonly timeoutMs: number
  private readonly snapshotThreshold: number
  private readonly maxProposalBytes: number
  private readonly log: Logger
  private ticker: ReturnType<typeof setInterval> | undefined
  private started = false
  private running = false
  private seq = 0
  /**
   * Request ids (entry ctx) must never repeat, restarts included: state machines apply each
   * ctx once, so a restarted node reusing `id:1` would have its new writes acknowledged and
   * silently skipped (found by the raft-kv SIGKILL test).
   */
  private readonly incarnation = randomId()
  private applied: number
  private readonly proposals = new Map<string, Waiter>()
  private readonly reads = new Map<string, Waiter>()
  private readyReads: Array<{ index: number, ctx: string }> = []
  private lastLeader: NodeId = ''
  private lastTerm = -1
  private idle: Array<() => void> = []
  /** A Ready whose write failed with DiskFullError: retried every tick, nothing after it runs. */
  private pendingReady: Ready | undefined
  private diskFull: Error | undefined

  constructor (init: RaftNodeInit) {
    super()
    this.id = init.id
    this.storage = init.storage
    this.transport = init.transport
    this.sm = init.stateMachine
    this.tickMs = init.tickMs ?? DEFAULT_TICK_MS
    if (!(this.tickMs > 0)) throw new InvalidParametersError('tickMs', this.tickMs, 'a positive number of milliseconds')
    this.timeoutMs = init.timeoutMs ?? DEFAULT_PROPOSAL_TIMEOUT_MS
    this.snapshotThreshold = init.snapshotThreshold ?? DEFAULT_SNAPSHOT_THRESHOLD_ENTRIES
    this.maxProposalBytes = init.maxProposalBytes ?? DEFAULT_MAX_PROPOSAL_BYTES
    this.log = init.logger?.child?.({ raft: init.id }) ?? init.logger ?? NOOP_LOGGER
    const { storage: _s, transport: _t, stateMachine: _m, tickMs: _k, timeoutMs: _o, snapshotThreshold: _h, maxProposalBytes: _p, logger: _l, ...coreInit } = init
    this.core = new RaftCore({ batchAppends: true, ...coreInit, storage: init.storage })
    const snap = init.storage.snapshot()
    if (snap.meta.index > 0) this.sm.restore(snap.data)
    this.applied = snap.meta.index
  }

  /** The leader this node knows of, or ''. */
  get leader (): NodeId { return this.core.lead }

  status (): RaftStatus { return this.core.status() }

  async start (): Promise<void> {
    if (this.started) return
    this.started = true
    await this.transport.start(m => { this.onMessage(m) })
    this.ticker = setInterval(() => {
      this.core.tick()
      this.kick()
    }, this.tickMs)
    this.ticker.unref()
    this.kick()
  }

  async stop (): Promise<void> {
    if (!this.started) return
    this.started = false
    if (this.ticker !== undefined) clearInterval(this.ticker)
    this.ticker = undefined
    if (this.running) await new Promise<void>(resolve => this.idle.push(resolve))
    for (const w of [...this.proposals.values(), ...this.reads.values()]) { w.cleanup(); w.reject(new NodeStoppedError()) }
    this.proposals.clear()
    this.reads.clear()
    this.readyReads = []
    await this.transport.stop()
  }

  /** Starts an election at once (e.g. to pick the first leader of a new cluster faster). */
  campaign (): void {
    this.core.campaign()
    this.kick()
  }

  /** Replicates `data`; resolves with the state machine's result once applied here. */
  async propose (data: Uint8Array, options: ProposeOptions = {}): Promise<unknown> {
    if (data.byteLength > this.maxProposalBytes) throw new PayloadTooLargeError(data.byteLength, this.maxProposalBytes)
    if (this.diskFull !== undefined) throw this.diskFull
    return await this.wait(this.proposals, options, ctx => { this.core.propose(data, ctx) }, 'propose()')
  }

  /** Proposes a membership change; resolves once it is applied here. */
  async changeMembership (change: ConfChange, options: ProposeOptions = {}): Promise<void> {
    await this.wait(this.proposals, options, ctx => { this.core.proposeConfChange(change, ctx) }, 'changeMembership()')
  }

  /**
   * Linearizable read barrier (ReadIndex): resolves once this node's state machine reflects
   * every write committed before the call; then read the state machine directly.
   */
  async read (options: ProposeOptions = {}): Promise<void> {
    await this.wait(this.reads, options, ctx => { this.core.readIndex(ctx) }, 'read()')
  }

  /** Asks the leader to hand over leadership to `to`. */
  transferLeader (to: NodeId): void {
    this.core.transferLeader(to)
    this.kick()
  }

  private async wait (into: Map<string, Waiter>, options: ProposeOptions, submit: (ctx: string) => void, what: string): Promise<unknown> {
    if (!this.started) throw new NodeStoppedError()
    options.signal?.throwIfAborted()
    const ctx = `${this.id}:${this.incarnation}:${++this.seq}`
    const ms = options.timeoutMs ?? this.timeoutMs
    return await new Promise<unknown>((resolve, reject) => {
      const onAbort = (): void => {
        const w = into.get(ctx)
        if (w === undefined) return
        into.delete(ctx)
        w.cleanup()
        reject(options.signal?.reason as Error)
      }
      const timer = setTimeout(() => {
        into.delete(ctx)
        options.signal?.removeEventListener('abort', onAbort)
        reject(new TimeoutError(what, ms))
      }, ms)
      timer.unref()
      const cleanup = (): void => {
        clearTimeout(timer)
        options.signal?.removeEventListener('abort', onAbort)
      }
      options.signal?.addEventListener('abort', onAbort, { once: true })
      into.set(ctx, { resolve, reject, timer, cleanup })
      try {
        submit(ctx)
      } catch (err) {
        into.delete(ctx)
        cleanup()
        reject(err instanceof Error ? err : new Error(String(err)))
        return
      }
      this.kick()
    })
  }

  private onMessage (m: Message): void {
    if (!this.started) return
    try {
      this.core.step(m)
    } catch (err) {
      // A malformed or hostile message must not take the node down: drop it.
      this.log.warn('dropped message %s from %s: %s', m?.type, m?.from, errorMessage(err))
      return
    }
    this.kick()
  }

  /**
   * Starts the loop on the next turn of the event loop rather than at once, so that every
   * proposal and message already received joins the same Ready: one write and one fsync for
   * all of them (group commit), even when storage writes synchronously.
   */
  private kick (): void {
    if (this.running || !this.started) return
    this.running = true
    defer(() => { this.loop() })
  }

  private loop (): void {
    if (!this.started) {
      this.running = false
      for (const f of this.idle.splice(0)) f()
      return
    }
    this.run().catch((err: unknown) => {
      // Storage failed in a way the node cannot recover from (EIO, a closed store): stop,
      // rather than carry on with a Ready that was neither persisted nor advanced.
      this.log.error('raft loop failed; stopping the node: %s', errorMessage(err))
      this.dispatchEvent(new CustomEvent<Error>('failed', { detail: err as Error }))
      void this.stop()
    }).finally(() => {
      this.running = false
      for (const f of this.idle.splice(0)) f()
      // A write that hit a full disk is retried on the next tick, not in a tight loop.
      if (this.started && this.pendingReady === undefined && this.core.hasReady()) this.kick()
    })
  }

  private async run (): Promise<void> {
    while (this.started && (this.pendingReady !== undefined || this.core.hasReady())) {
      const retry = this.pendingReady
      const rd = retry ?? this.core.ready()
      const appliedBefore = this.applied
      if (retry === undefined) {
        this.notifyLeader(rd)
        // A leader's appends and heartbeats don't depend on its own write (thesis §10.2.1).
        if (rd.earlyMessages.length > 0) this.transport.send(rd.earlyMessages)
      }
      if (rd.entries.length > 0 || rd.hardState !== undefined || rd.snapshot !== undefined) {
        try {
          await this.storage.persist({ entries: rd.entries, hardState: rd.hardState, snapshot: rd.snapshot }, { sync: rd.mustSync })
        } catch (err) {
          if ((err as Error).name !== 'DiskFullError') throw err
          // Keep the node up: refuse proposals, keep this Ready and retry it every tick.
          if (this.diskFull === undefined) this.log.error('storage is full; proposals are refused until the write succeeds: %s', errorMessage(err))
          this.diskFull = err as Error
          this.pendingReady = rd
          return
        }
        if (this.diskFull !== undefined) this.log.info('storage writable again')
        this.pendingReady = undefined
        this.diskFull = undefined
      }
      // Votes and append acknowledgements only once durable.
      if (rd.messages.length > 0) this.transport.send(rd.messages)
      if (rd.snapshot !== undefined) {
        this.sm.restore(rd.snapshot.data)
        this.applied = rd.snapshot.meta.index
      }
      for (const e of rd.committedEntries) this.apply(e)
      for (const rs of rd.readStates) this.readyReads.push({ index: rs.index, ctx: rs.context })
      this.core.advance()
      this.serveReads()
      if (this.applied !== appliedBefore) this.dispatchEvent(new CustomEvent<AppliedChange>('applied', { detail: { index: this.applied } }))
      await this.maybeCompact()
    }
  }

  private apply (e: Entry): void {
    let result: unknown
    if (e.type === 'normal' && e.data.byteLength > 0) result = this.sm.apply(e)
    this.applied = e.index
    if (e.ctx === undefined) return
    const w = this.proposals.get(e.ctx)
    if (w === undefined) return
    this.proposals.delete(e.ctx)
    w.cleanup()
    w.resolve(result)
  }

  private serveReads (): void {
    if (this.readyReads.length === 0) return
    const keep: Array<{ index: number, ctx: string }> = []
    for (const r of this.readyReads) {
      if (r.index > this.applied) { keep.push(r); continue }
      const w = this.reads.get(r.ctx)
      if (w === undefined) continue
      this.reads.delete(r.ctx)
      w.cleanup()
      w.resolve(undefined)
    }
    this.readyReads = keep
  }

  private async maybeCompact (): Promise<void> {
    const snap = this.storage.snapshot()
    if (this.applied - snap.meta.index < this.snapshotThreshold || this.applied > this.storage.lastIndex()) return
    const meta = { index: this.applied, term: this.storage.term(this.applied), conf: this.core.confState() }
    await this.storage.compact({ meta, data: this.sm.snapshot() })
    this.log.debug('compacted log through %d', meta.index)
  }

  private notifyLeader (rd: Ready): void {
    if (rd.leader === this.lastLeader && rd.term === this.lastTerm) return
    this.lastLeader = rd.leader
    this.lastTerm = rd.term
    this.dispatchEvent(new CustomEvent<LeaderChange>('leader', { detail: { leader: rd.leader, term: rd.term } }))
  }
}
