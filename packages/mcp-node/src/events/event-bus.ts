import * as dagCbor from '@ipld/dag-cbor'
import { TopicValidatorResult, type Message } from '@libp2p/gossipsub'
import type { Libp2p, PeerId } from '@libp2p/interface'
import type { RegistryServices } from '@p2p-mcp/dht-registry'
import { MemoryBlockStore, MerkleClock, decodeEvent, verifyEvent } from '@p2p-mcp/merkle-clock'
import { ClockSetExchange, type ClockSession } from '@p2p-mcp/merkle-clock/libp2p'
import { CID } from 'multiformats/cid'
import { sha256 } from 'multiformats/hashes/sha2'
import { TypedEventEmitter } from 'main-event'
import {
  DEFAULT_ANTI_ENTROPY_INTERVAL_MS, DEFAULT_MAX_BLOCK_BYTES, DEFAULT_MAX_EVENT_BYTES, DEFAULT_MAX_PENDING_MERGES, DEFAULT_PARTITIONS, EVENTS_TOPIC, GOSSIP_GAP_WAIT_MS,
} from './constants.js'
import { InvalidMeshEventError } from './errors.js'
import { MeshEventSchema, openEvent, signEvent, type EventInput, type MeshEvent, type Signer } from './event-format.js'
import type { EventLog, LogRecord } from './event-log.js'
import type { Logger } from '../logger.js'
import { errorMessage } from '../errors.js'

type Payload = Record<string, unknown>
/** A block whose event passed every check. */
interface Checked { cid: CID, bytes: Uint8Array, event: MeshEvent }

/** An event as delivered: where it sits in this peer's log, its clock block, the event. */
export interface Delivery {
  offset: number
  cid: string
  /** The clock parents of the event's block (CID strings): what it causally follows. */
  parents: string[]
  event: MeshEvent
}

export interface EventBusInit {
  libp2p: Libp2p<RegistryServices>
  sign: Signer
  log: EventLog
  logger: Logger
  /** @default 4 */
  partitions?: number
  /** @default 5_000 */
  antiEntropyIntervalMs?: number
  /** @default 64 KiB */
  maxEventBytes?: number
  /** @default 1024 */
  maxPendingMerges?: number
  now?: () => Date
}

export interface EventBusEvents {
  /** An event entered this peer's log (published here or received), in log order. */
  event: CustomEvent<Delivery>
}

/** Counters of the bus, for `mesh__status`, the benchmarks and the tests. */
export interface EventBusStats {
  published: number
  received: number
  /** Gossip messages the validator rejected. */
  rejected: number
  /** Event blocks pulled over `/p2p-mcp/clocks/1.0.0` (gap repair and anti-entropy). */
  blocksFetched: number
  /** Fetch round trips. */
  blockRequests: number
  antiEntropyRuns: number
  duplicates: number
  /** Gossip messages ignored because too many merges were pending. */
  overloaded: number
}

/** `event_type` → partition: by the first segment, so a topic tree stays in one DAG. */
export function partitionOf (eventType: string, partitions: number): number {
  const root = eventType.split('.', 1)[0]!
  let h = 0x811c9dc5
  for (let i = 0; i < root.length; i++) h = Math.imul(h ^ root.charCodeAt(i), 0x01000193) >>> 0
  return h % partitions
}

/** Decodes the event in a clock block this peer stored itself (no signature check). */
export function eventOfBlock (bytes: Uint8Array): MeshEvent {
  const payload = decodeEvent<Payload>(bytes, { maxBytes: DEFAULT_MAX_BLOCK_BYTES * 4 }).payload
  const { sig: _sig, ...rest } = payload
  return MeshEventSchema.parse(rest)
}

/** How long a repair session to a peer stays open unused. */
const SESSION_IDLE_MS = 10_000

/** The clock parents of a block this peer stored (CID strings). */
export function parentsOf (bytes: Uint8Array): string[] {
  return decodeEvent(bytes, { maxBytes: Number.MAX_SAFE_INTEGER }).parents.map(String)
}

async function cidOf (bytes: Uint8Array): Promise<CID> {
  const d = sha256.digest(bytes)
  return CID.createV1(dagCbor.code, d instanceof Promise ? await d : d)
}

/**
 * The gossip validator's checks of a message on `p2p-mcp/events/1`: size, block shape and
 * hash, event schema, signature, and the message's author being the event's source (events
 * are gossiped by their producer only; others' events travel by anti-entropy). Throws
 * `InvalidMeshEventError`, nothing else.
 */
export async function checkGossipMessage (msg: Message, limits: { maxBlockBytes: number, maxEventBytes: number }): Promise<{ cid: CID, bytes: Uint8Array, event: MeshEvent }> {
  const bytes = msg.data
  if (!(bytes instanceof Uint8Array)) throw new InvalidMeshEventError('the gossip message carries no bytes')
  if (bytes.length > limits.maxBlockBytes) throw new InvalidMeshEventError(`gossip message of ${bytes.length} bytes, over ${limits.maxBlockBytes}`)
  const cid = await cidOf(bytes)
  let block
  try {
    block = await verifyEvent<Payload>(cid, bytes, { maxBytes: limits.maxBlockBytes })
  } catch (err) {
    throw new InvalidMeshEventError(errorMessage(err), { cause: err })
  }
  const event = await openEvent(block.value.payload, { maxEventBytes: limits.maxEventBytes })
  if (msg.type !== 'signed' || msg.from.toString() !== event.source) throw new InvalidMeshEventError(`gossiped by ${msg.type === 'signed' ? msg.from.toString() : 'nobody'}, not by its source ${event.source}`)
  return { cid, bytes, event }
}

/**
 * The mesh's event stream at one peer, with no broker: an event is a signed payload in a
 * Merkle-clock block, one DAG per topic partition; the block is gossiped on
 * `p2p-mcp/events/1` (a validator checks size, hash, shape, schema and signature); a receiver
 * merges it into its DAG, fetching any missing ancestors from the sender over
 * `/p2p-mcp/clocks/1.0.0`, and every few seconds reconciles each DAG with one peer
 * (anti-entropy), so a peer that missed events pulls exactly those. Events enter the log in
 * causal order (a merge's additions parents first) and are emitted as `event`.
 */
export class EventBus extends TypedEventEmitter<EventBusEvents> {
  readonly stats: EventBusStats = { published: 0, received: 0, rejected: 0, blocksFetched: 0, blockRequests: 0, antiEntropyRuns: 0, duplicates: 0, overloaded: 0 }
  readonly #init: EventBusInit
  readonly #partitions: number
  readonly #maxEventBytes: number
  readonly #maxPending: number
  readonly #clocks: Array<MerkleClock<Payload>> = []
  readonly #exchange: ClockSetExchange<Payload>
  readonly #vector = new Map<string, number>()
  readonly #self: string
  readonly #validated = new WeakMap<Uint8Array, Checked>()
  #sequence = 0
  readonly #locks: Array<Promise<unknown>> = []
  /** Gossiped blocks that passed the validator and are not merged yet, by CID (bounded). */
  readonly #received = new Map<string, Checked>()
  readonly #waiters = new Map<string, Array<(c: Checked) => void>>()
  readonly #sessions = new Map<string, { session: ClockSession, timer: ReturnType<typeof setTimeout> | undefined }>()
  #pending = 0
  #timer: ReturnType<typeof setInterval> | undefined
  #started = false
  #syncing = new Set<string>()

  constructor (init: EventBusInit) {
    super()
    this.#init = init
    this.#partitions = init.partitions ?? DEFAULT_PARTITIONS
    this.#maxEventBytes = init.maxEventBytes ?? DEFAULT_MAX_EVENT_BYTES
    this.#maxPending = init.maxPendingMerges ?? DEFAULT_MAX_PENDING_MERGES
    this.#self = init.libp2p.peerId.toString()
    const clocks = (name: string): MerkleClock<Payload> | undefined => {
      const m = /^events\/(\d+)$/.exec(name)
      return m === null ? undefined : this.#clocks[Number(m[1])]
    }
    this.#exchange = new ClockSetExchange<Payload>(init.libp2p, clocks, { maxBlockBytes: this.#maxBlockBytes, logger: init.logger })
  }

  get #maxBlockBytes (): number { return this.#maxEventBytes + 16 * 1024 }

  /** The heads of each partition's DAG (CID strings). */
  heads (): string[][] { return this.#clocks.map((c) => c.heads.map(String)) }

  /** Rebuilds the DAGs from the log, then joins the topic and serves the exchange. */
  async start (): Promise<void> {
    if (this.#started) return
    this.#started = true
    const stores = Array.from({ length: this.#partitions }, () => new MemoryBlockStore())
    const heads = stores.map(() => new Map<string, CID>())
    for await (const r of this.#init.log.open()) {
      let event: MeshEvent
      try {
        event = eventOfBlock(r.block)
      } catch (err) {
        this.#init.logger.warn({ offset: r.offset, err: errorMessage(err) }, 'skipping an unreadable event in the log')
        continue
      }
      const p = partitionOf(event.event_type, this.#partitions)
      const cid = CID.parse(r.cid)
      stores[p]!.put(cid, r.block)
      const h = heads[p]!
      h.set(r.cid, cid)
      for (const parent of parentsOf(r.block)) h.delete(parent)
      this.#observe(event)
    }
    for (let p = 0; p < this.#partitions; p++) {
      this.#clocks.push(new MerkleClock<Payload>({ store: stores[p], heads: [...heads[p]!.values()], maxBlockBytes: this.#maxBlockBytes }))
    }
    const pubsub = this.#init.libp2p.services.pubsub
    pubsub.topicValidators.set(EVENTS_TOPIC, this.#validate)
    pubsub.addEventListener('message', this.#onMessage)
    pubsub.subscribe(EVENTS_TOPIC)
    this.#init.libp2p.addEventListener('peer:connect', this.#onConnect)
    await this.#exchange.start()
    const every = this.#init.antiEntropyIntervalMs ?? DEFAULT_ANTI_ENTROPY_INTERVAL_MS
    this.#timer = setInterval(() => { void this.antiEntropy() }, every)
    this.#timer.unref()
  }

  async stop (): Promise<void> {
    if (!this.#started) return
    this.#started = false
    clearInterval(this.#timer)
    const pubsub = this.#init.libp2p.services.pubsub
    pubsub.removeEventListener('message', this.#onMessage)
    this.#init.libp2p.removeEventListener('peer:connect', this.#onConnect)
    if (pubsub.topicValidators.get(EVENTS_TOPIC) === this.#validate) pubsub.topicValidators.delete(EVENTS_TOPIC)
    try { pubsub.unsubscribe(EVENTS_TOPIC) } catch { /* pubsub already stopped */ }
    for (const { session, timer } of this.#sessions.values()) {
      clearTimeout(timer)
      await session.close()
    }
    this.#sessions.clear()
    await this.#exchange.stop()
  }

  /**
   * Signs, logs and gossips an event of this peer. Sequence numbers are taken in call order;
   * a publish that fails after taking one leaves a gap in this source's numbers.
   */
  async publish (input: EventInput): Promise<Delivery> {
    if (!this.#started) throw new Error('the event bus is not started')
    const sequence = ++this.#sequence
    const causality = { ...Object.fromEntries(this.#vector), [this.#self]: sequence }
    const p = partitionOf(input.event_type, this.#partitions)
    const { delivery, bytes } = await this.#serial(p, async () => {
      const { event, signed } = await signEvent(input, { source: this.#self, sequence, causality, now: this.#init.now?.() ?? new Date() },
        { sign: this.#init.sign, maxEventBytes: this.#maxEventBytes })
      const block = await this.#clocks[p]!.advance(signed)
      return { delivery: this.#accept(block.cid.toString(), block.bytes, event)!, bytes: block.bytes }
    })
    this.stats.published++
    await this.#init.libp2p.services.pubsub.publish(EVENTS_TOPIC, bytes).catch((err: Error) => {
      // No subscribed peer yet: anti-entropy carries it when one comes.
      this.#init.logger.debug({ err: err.message }, 'event not gossiped')
    })
    return delivery
  }

  /**
   * Runs `fn` alone among this partition's publishes and merges, so that events enter the log
   * in the order they entered the DAG (a merge's additions are logged before the next starts).
   */
  async #serial<R> (p: number, fn: () => Promise<R>): Promise<R> {
    const run = (this.#locks[p] ?? Promise.resolve()).then(fn, fn)
    this.#locks[p] = run.catch(() => {})
    return run
  }

  /** Reconciles every partition with one connected peer that subscribes to the topic. */
  async antiEntropy (): Promise<void> {
    const peers = this.#init.libp2p.services.pubsub.getSubscribers(EVENTS_TOPIC)
    if (peers.length === 0) return
    const peer = peers[Math.floor(Math.random() * peers.length)]!
    await this.syncWith(peer)
  }

  /** Pulls from `peer` exactly the events of each partition this peer lacks. */
  async syncWith (peer: PeerId): Promise<void> {
    const key = peer.toString()
    if (this.#syncing.has(key) || !this.#started) return
    this.#syncing.add(key)
    this.stats.antiEntropyRuns++
    try {
      for (let p = 0; p < this.#partitions; p++) {
        const session = await this.#exchange.open(peer, { clock: `events/${p}` })
        try {
          const heads = await session.heads()
          if ((await this.#clocks[p]!.missing(heads)).length === 0) continue
          await this.#merge(p, heads, async (cid) => {
            this.stats.blockRequests++
            return session.fetch(cid)
          })
        } finally {
          await session.close()
        }
      }
    } catch (err) {
      this.#init.logger.debug({ peer: key, err: errorMessage(err) }, 'anti-entropy with a peer failed')
    } finally {
      this.#syncing.delete(key)
    }
  }

  /** Merges remote heads, checking every fetched event's signature before it enters the DAG. */
  async #merge (p: number, heads: CID[], fetch: (cid: CID) => Promise<Uint8Array | undefined>, known?: Checked): Promise<void> {
    // Only the gossiped block's own parents may be in validation right now.
    const nearby = new Set(known === undefined ? [] : parentsOf(known.bytes))
    await this.#serial(p, async () => {
      const checked = new Map<string, Checked>()
      const result = await this.#clocks[p]!.merge(heads, {
        fetch: async (cid) => {
          const key = cid.toString()
          // A block gossiped and validated here already (the validator checked it): no fetch.
          const local = known !== undefined && cid.equals(known.cid) ? known : this.#received.get(key) ?? (nearby.has(key) ? await this.#awaitGossip(key) : undefined)
          if (local !== undefined) {
            checked.set(key, local)
            return local.bytes
          }
          const bytes = await fetch(cid)
          if (bytes === undefined) return undefined
          this.stats.blocksFetched++
          const block = await verifyEvent<Payload>(cid, bytes, { maxBytes: this.#maxBlockBytes })
          checked.set(key, { cid, bytes, event: await openEvent(block.value.payload, { maxEventBytes: this.#maxEventBytes }) })
          return bytes
        },
      })
      for (const cid of result.added) {
        const c = checked.get(cid.toString())!
        this.#accept(cid.toString(), c.bytes, c.event)
        this.stats.received++
      }
    })
  }

  /**
   * A parent may be in gossip validation right now (validations run concurrently and finish in
   * any order): wait a moment for it before fetching it over the network.
   */
  async #awaitGossip (key: string): Promise<Checked | undefined> {
    return new Promise<Checked | undefined>((resolve) => {
      const list = this.#waiters.get(key) ?? []
      this.#waiters.set(key, list)
      const timer = setTimeout(() => {
        const l = this.#waiters.get(key)
        if (l !== undefined) {
          l.splice(l.indexOf(done), 1)
          if (l.length === 0) this.#waiters.delete(key)
        }
        resolve(undefined)
      }, GOSSIP_GAP_WAIT_MS)
      timer.unref()
      const done = (c: Checked): void => { clearTimeout(timer); resolve(c) }
      list.push(done)
    })
  }

  /** Logs an event (once per event id) and emits it. */
  #accept (cid: string, bytes: Uint8Array, event: MeshEvent): Delivery | undefined {
    if (this.#init.log.offsetOf(event.event_id) !== undefined) {
      this.stats.duplicates++
      return undefined
    }
    this.#observe(event)
    const record: LogRecord = this.#init.log.append({ cid, eventId: event.event_id, block: bytes })
    const delivery = { offset: record.offset, cid, parents: parentsOf(bytes), event }
    this.safeDispatchEvent('event', { detail: delivery })
    return delivery
  }

  #observe (event: MeshEvent): void {
    if ((this.#vector.get(event.source) ?? 0) < event.sequence_number) this.#vector.set(event.source, event.sequence_number)
    if (event.source === this.#self) this.#sequence = Math.max(this.#sequence, event.sequence_number)
  }

  readonly #validate = async (_from: PeerId, msg: Message): Promise<TopicValidatorResult> => {
    try {
      const checked = await checkGossipMessage(msg, { maxBlockBytes: this.#maxBlockBytes, maxEventBytes: this.#maxEventBytes })
      this.#validated.set(msg.data, checked)
      const key = checked.cid.toString()
      if (this.#received.size >= this.#maxPending) this.#received.delete(this.#received.keys().next().value!)
      this.#received.set(key, checked)
      const waiters = this.#waiters.get(key)
      this.#waiters.delete(key)
      for (const w of waiters ?? []) w(checked)
      return TopicValidatorResult.Accept
    } catch (err) {
      this.stats.rejected++
      this.#init.logger.debug({ err: errorMessage(err) }, 'gossiped event rejected')
      return TopicValidatorResult.Reject
    }
  }

  readonly #onMessage = (evt: CustomEvent<Message>): void => {
    const msg = evt.detail
    if (msg.topic !== EVENTS_TOPIC) return
    const validated = this.#validated.get(msg.data)
    void this.#onBlock(msg, validated)
  }

  async #onBlock (msg: Message, validated: Checked | undefined): Promise<void> {
    if (this.#pending >= this.#maxPending) {
      this.stats.overloaded++
      return
    }
    this.#pending++
    try {
      const known = validated ?? await checkGossipMessage(msg, { maxBlockBytes: this.#maxBlockBytes, maxEventBytes: this.#maxEventBytes })
      const event = known.event
      const p = partitionOf(event.event_type, this.#partitions)
      if ((await this.#clocks[p]!.missing([known.cid])).length === 0) {
        this.stats.duplicates++
        return
      }
      const from = msg.type === 'signed' ? msg.from : undefined
      try {
        await this.#merge(p, [known.cid], async (cid) => {
          if (from === undefined) return undefined
          this.stats.blockRequests++
          return this.#fetchFrom(from, p, cid)
        }, known)
      } finally {
        this.#received.delete(known.cid.toString())
      }
    } catch (err) {
      this.#init.logger.debug({ err: errorMessage(err) }, 'a gossiped event could not be merged yet (anti-entropy will retry)')
    } finally {
      this.#pending--
    }
  }

  /**
   * Fetches a block from `peer` over a session kept open per peer and partition (gap repair
   * comes in runs; a new stream per block would pay a protocol negotiation each time).
   */
  async #fetchFrom (peer: PeerId, p: number, cid: CID): Promise<Uint8Array | undefined> {
    const key = `${peer.toString()}/${p}`
    let entry = this.#sessions.get(key)
    if (entry === undefined) {
      const session = await this.#exchange.open(peer, { clock: `events/${p}` })
      entry = { session, timer: undefined }
      this.#sessions.set(key, entry)
    }
    clearTimeout(entry.timer)
    const e = entry
    e.timer = setTimeout(() => { this.#sessions.delete(key); void e.session.close() }, SESSION_IDLE_MS)
    e.timer.unref()
    try {
      return await e.session.fetch(cid)
    } catch (err) {
      clearTimeout(e.timer)
      if (this.#sessions.get(key) === e) this.#sessions.delete(key)
      void e.session.close()
      throw err
    }
  }

  readonly #onConnect = (evt: CustomEvent<PeerId>): void => {
    // A healed partition or a new peer: reconcile at once rather than at the next tick.
    const peer = evt.detail
    setTimeout(() => { void this.syncWith(peer) }, 200).unref()
  }
}
