/**
 * The `/p2p-mcp/clock/1.0.0` exchange: a libp2p protocol over which a peer asks another for
 * its heads and for event blocks by CID, so that `MerkleClock.merge` can pull what it lacks.
 * Node-side wiring, in its own subpath so that the root entry needs no libp2p.
 *
 * @packageDocumentation
 */
import * as dagCbor from '@ipld/dag-cbor'
import type { Libp2p, Stream } from '@libp2p/interface'
import { lpStream, type LengthPrefixedStream } from '@libp2p/utils'
import { CID } from 'multiformats/cid'
import { sha256 } from 'multiformats/hashes/sha2'
import { DEFAULT_FETCH_CONCURRENCY, DEFAULT_MAX_BLOCK_BYTES, DEFAULT_MAX_HEADS } from './constants.js'
import { InvalidHeadsError, errorMessage, describe } from './errors.js'
import { isEventCid, sortCids } from './event.js'
import type { MerkleClock } from './merkle-clock.js'
import type { AbortOptions, Logger, MergeResult } from './types.js'
import { noopLogger } from './logger.js'

/** The protocol id of the Merkle-clock event exchange. */
export const CLOCK_PROTOCOL = '/p2p-mcp/clock/1.0.0'
/** The protocol id of the exchange of several named Merkle clocks. */
export const CLOCK_SET_PROTOCOL = '/p2p-mcp/clocks/1.0.0'
/** Longest clock name a request may carry. */
export const MAX_CLOCK_NAME_LENGTH = 128
/** Wire version carried in every message. */
export const CLOCK_MESSAGE_VERSION = 1
/** Largest request frame a server reads: one CID, a prefetch depth and up to MAX_HAVE CIDs. */
export const MAX_REQUEST_BYTES = 2048
/** Most `have` CIDs a request may carry. */
export const MAX_HAVE = 16
/** Most events walked to sample `have` (reaches distance 4096 behind the head). */
const MAX_HAVE_WALK = 4096
/** Largest prefetch depth a server honours (larger requests are cut to it). */
export const MAX_PREFETCH = 1024
/** How long one request may wait for its response. */
export const DEFAULT_REQUEST_TIMEOUT_MS = 10_000
/** How long a server keeps a session that sends no request, or does not read its answer. */
export const DEFAULT_SESSION_IDLE_TIMEOUT_MS = 30_000
/** Sessions one peer may hold open to a server at once (per connection). */
export const DEFAULT_MAX_INBOUND_STREAMS = 16
/** Extra room in a response frame around the blocks it carries (CBOR headers). */
const RESPONSE_OVERHEAD_BYTES = 16 * 1024

/** What the exchange needs of a libp2p node. */
export type ClockNode = Pick<Libp2p, 'handle' | 'unhandle' | 'dialProtocol'>
/** Whom to sync with: what `dialProtocol` accepts. */
export type ClockPeer = Parameters<Libp2p['dialProtocol']>[0]

export interface ClockExchangeInit {
  /**
   * Largest event block served or accepted, in bytes; keep it equal to the clock's.
   *
   * @default 1 MiB
   */
  maxBlockBytes?: number
  /**
   * Most heads accepted in a heads response.
   *
   * @default 1024
   */
  maxHeads?: number
  /**
   * How long one request may wait for its response, in milliseconds.
   *
   * @default 10_000
   */
  requestTimeoutMs?: number
  /**
   * How long a served session may go without a request, or leave an answer unread, before
   * the server aborts it (libp2p enforces no stream inactivity timeout itself).
   *
   * @default 30_000
   */
  sessionIdleTimeoutMs?: number
  /**
   * Inbound sessions per connection.
   *
   * @default 16
   */
  maxInboundStreams?: number
  /**
   * Receives a line per refused or failed session.
   *
   * @default a no-op logger
   */
  logger?: Logger
}

export interface SyncOptions extends AbortOptions {
  /**
   * With each block request, ask the peer to push up to this many ancestors of the block,
   * walking back until it meets an event we told it we hold (our heads, and events 1, 2, 4,
   * 8... behind our first head). 0 transfers exactly the missing events, one round trip
   * each; more cuts round trips along chains, at the price, when the clocks are concurrent,
   * of some events we hold already (at most this many per request; usually no more than
   * our own divergence).
   *
   * @default 0
   */
  prefetch?: number
  /**
   * Block requests kept in flight on the session.
   *
   * @default 8
   */
  concurrency?: number
}

/** The exchange broke off: the stream failed, timed out, or the peer answered nonsense. */
export class ClockExchangeError extends Error {
  override name = 'ClockExchangeError'
  readonly code = 'ERR_CLOCK_EXCHANGE'

  constructor (reason: string, options?: ErrorOptions) {
    super(`clock exchange failed: ${reason}`, options)
  }
}

const noop = (): void => {}

function decodeMap (bytes: Uint8Array): Record<string, unknown> {
  const value: unknown = dagCbor.decode(bytes)
  if (typeof value !== 'object' || value === null || Array.isArray(value) || value instanceof Uint8Array || CID.asCID(value) !== null) {
    throw new TypeError('the message is not a map')
  }
  const map = value as Record<string, unknown>
  if (map.v !== CLOCK_MESSAGE_VERSION) throw new TypeError(`message version ${describe(map.v)} is not ${CLOCK_MESSAGE_VERSION}`)
  return map
}

/**
 * One client session over one stream: requests are pipelined and answered in order.
 * Any failure (timeout, reset, a malformed answer) ends the session.
 */
export class ClockSession {
  readonly #stream: Stream
  readonly #lp: LengthPrefixedStream<Stream>
  readonly #timeoutMs: number
  readonly #maxHeads: number
  #writes: Promise<unknown> = Promise.resolve()
  #reads: Promise<unknown> = Promise.resolve()
  #failed: Error | undefined
  readonly #prefetch: number
  readonly #clockName: string | undefined
  readonly #have: CID[]
  /** Blocks pushed by the peer and not asked for yet, by CID string (bounded). */
  readonly #pushed = new Map<string, Uint8Array>()
  /** Block requests (round trips) sent on this session. */
  blockRequests = 0
  /** Blocks received on this session, asked for or pushed. */
  blocksReceived = 0

  constructor (stream: Stream, init: Required<Pick<ClockExchangeInit, 'maxBlockBytes' | 'maxHeads' | 'requestTimeoutMs'>>,
    options?: { prefetch?: number, have?: CID[], clock?: string }) {
    this.#stream = stream
    this.#clockName = options?.clock
    this.#prefetch = Math.min(Math.max(0, Math.floor(options?.prefetch ?? 0)), MAX_PREFETCH)
    this.#have = (options?.have ?? []).slice(0, MAX_HAVE)
    this.#lp = lpStream(stream, { maxDataLength: init.maxBlockBytes + RESPONSE_OVERHEAD_BYTES })
    this.#timeoutMs = init.requestTimeoutMs
    this.#maxHeads = init.maxHeads
  }

  /** The peer's current heads. */
  async heads (options?: AbortOptions): Promise<CID[]> {
    const res = await this.#request(this.#named({ v: CLOCK_MESSAGE_VERSION, op: 'heads' }), options)
    const heads = res.heads
    if (!Array.isArray(heads)) throw this.#fail(new ClockExchangeError('the heads response has no heads list'))
    if (heads.length > this.#maxHeads) throw this.#fail(new InvalidHeadsError(`${heads.length} heads, over maxHeads ${this.#maxHeads}`))
    return sortCids(heads.map((h, i) => {
      const cid = CID.asCID(h)
      if (cid === null || !isEventCid(cid)) throw this.#fail(new InvalidHeadsError(`head ${i} is not a dag-cbor sha2-256 CIDv1`))
      return cid
    }))
  }

  /** A block by CID, or undefined when the peer lacks it; a `FetchBlock` for `merge`. */
  readonly fetch = async (cid: CID, options?: AbortOptions): Promise<Uint8Array | undefined> => {
    const key = cid.toString()
    const pushed = this.#pushed.get(key)
    if (pushed !== undefined) {
      this.#pushed.delete(key)
      return pushed
    }
    this.blockRequests++
    const req: Record<string, unknown> = this.#named({ v: CLOCK_MESSAGE_VERSION, op: 'get', cid })
    if (this.#prefetch > 0) {
      req.prefetch = this.#prefetch
      req.have = this.#have
    }
    const res = await this.#request(req, options)
    if (res.block === null) return undefined
    if (!(res.block instanceof Uint8Array)) throw this.#fail(new ClockExchangeError('the block response has no block'))
    this.blocksReceived++
    if (res.ancestors !== undefined) await this.#keepPushed(res.ancestors)
    return res.block
  }

  /** Adds the clock's name to a request on `/p2p-mcp/clocks/1.0.0`. */
  #named (req: Record<string, unknown>): Record<string, unknown> {
    if (this.#clockName !== undefined) req.clock = this.#clockName
    return req
  }

  /** Files pushed blocks under the CID their bytes hash to; merge verifies them again anyway. */
  async #keepPushed (ancestors: unknown): Promise<void> {
    if (!Array.isArray(ancestors) || ancestors.length > this.#prefetch) {
      throw this.#fail(new ClockExchangeError('the block response has a malformed or oversized ancestors list'))
    }
    for (const bytes of ancestors) {
      if (!(bytes instanceof Uint8Array)) throw this.#fail(new ClockExchangeError('an ancestor is not bytes'))
      this.blocksReceived++
      const digest = sha256.digest(bytes)
      const cid = CID.createV1(dagCbor.code, digest instanceof Promise ? await digest : digest)
      this.#pushed.set(cid.toString(), bytes)
    }
    // Unasked blocks are dropped past a bound, oldest first, so a peer cannot fill our memory.
    const limit = 4 * Math.max(this.#prefetch, 1)
    for (const key of this.#pushed.keys()) {
      if (this.#pushed.size <= limit) break
      this.#pushed.delete(key)
    }
  }

  /** Closes the session (idempotent). */
  async close (options?: AbortOptions): Promise<void> {
    if (this.#stream.status !== 'open') return
    try {
      await this.#stream.close(options)
    } catch (err) {
      this.#stream.abort(err as Error)
    }
  }

  async #request (message: Record<string, unknown>, options?: AbortOptions): Promise<Record<string, unknown>> {
    if (this.#failed !== undefined) throw this.#failed
    const signal = options?.signal === undefined
      ? AbortSignal.timeout(this.#timeoutMs)
      : AbortSignal.any([options.signal, AbortSignal.timeout(this.#timeoutMs)])
    const bytes = dagCbor.encode(message)
    // Writes and reads are queued in the same order, so each read gets its own answer.
    const write = this.#writes.then(async () => this.#lp.write(bytes, { signal }))
    this.#writes = write.catch(noop)
    const read = this.#reads.then(async () => {
      await write
      return this.#lp.read({ signal })
    })
    this.#reads = read.catch(noop)
    let frame
    try {
      frame = await read
    } catch (err) {
      throw this.#fail(new ClockExchangeError(errorMessage(err), { cause: err }))
    }
    try {
      return decodeMap(frame.subarray())
    } catch (err) {
      throw this.#fail(new ClockExchangeError(`malformed response (${errorMessage(err)})`, { cause: err }))
    }
  }

  #fail (err: Error): Error {
    if (this.#failed === undefined) {
      this.#failed = err
      this.#stream.abort(err)
    }
    return err
  }
}

/** Serving and syncing shared by the one-clock and the named-clocks exchanges. */
abstract class ExchangeCore<T> {
  readonly #node: ClockNode
  readonly #protocol: string
  readonly #resolve: (name: unknown) => MerkleClock<T> | undefined
  readonly #init: Required<Omit<ClockExchangeInit, 'logger'>>
  readonly #log: Logger
  #started = false

  constructor (node: ClockNode, protocol: string, resolve: (name: unknown) => MerkleClock<T> | undefined, init?: ClockExchangeInit) {
    this.#node = node
    this.#protocol = protocol
    this.#resolve = resolve
    this.#init = {
      maxBlockBytes: init?.maxBlockBytes ?? DEFAULT_MAX_BLOCK_BYTES,
      maxHeads: init?.maxHeads ?? DEFAULT_MAX_HEADS,
      requestTimeoutMs: init?.requestTimeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS,
      maxInboundStreams: init?.maxInboundStreams ?? DEFAULT_MAX_INBOUND_STREAMS,
      sessionIdleTimeoutMs: init?.sessionIdleTimeoutMs ?? DEFAULT_SESSION_IDLE_TIMEOUT_MS,
    }
    this.#log = init?.logger ?? noopLogger
  }

  /** Registers the protocol handler (idempotent). */
  async start (): Promise<void> {
    if (this.#started) return
    this.#started = true
    await this.#node.handle(this.#protocol, async (stream) => this.#serve(stream), {
      maxInboundStreams: this.#init.maxInboundStreams,
    })
  }

  /** Unregisters the handler (idempotent); open sessions finish on their own. */
  async stop (): Promise<void> {
    if (!this.#started) return
    this.#started = false
    await this.#node.unhandle(this.#protocol)
  }

  /**
   * Opens a session to `peer`; close it when done. `prefetch` and `have` (our heads, at most
   * 16) are sent with each block request: see `SyncOptions.prefetch`. `clock` names the
   * clock on `/p2p-mcp/clocks/1.0.0`.
   */
  async open (peer: ClockPeer, options?: AbortOptions & { prefetch?: number, have?: CID[], clock?: string }): Promise<ClockSession> {
    const signal = options?.signal === undefined
      ? AbortSignal.timeout(this.#init.requestTimeoutMs)
      : AbortSignal.any([options.signal, AbortSignal.timeout(this.#init.requestTimeoutMs)])
    const stream = await this.#node.dialProtocol(peer, this.#protocol, { signal })
    return new ClockSession(stream, this.#init, options)
  }

  /** Asks `peer` for the heads of `clock` and merges them, fetching the missing events over one session. */
  protected async syncClock (peer: ClockPeer, clock: MerkleClock<T>, name: string | undefined, options?: SyncOptions): Promise<SyncResult> {
    const prefetch = options?.prefetch ?? 0
    const have = prefetch > 0 ? await haveList(clock) : []
    const session = await this.open(peer, { signal: options?.signal, prefetch, have, ...(name === undefined ? {} : { clock: name }) })
    try {
      const heads = await session.heads(options)
      const result = await clock.merge(heads, {
        fetch: session.fetch,
        concurrency: options?.concurrency ?? DEFAULT_FETCH_CONCURRENCY,
        signal: options?.signal,
      })
      return { ...result, blockRequests: session.blockRequests, blocksReceived: session.blocksReceived }
    } finally {
      await session.close()
    }
  }

  async #serve (stream: Stream): Promise<void> {
    const lp = lpStream(stream, { maxDataLength: MAX_REQUEST_BYTES })
    try {
      while (true) {
        let frame
        try {
          frame = await lp.read({ signal: AbortSignal.timeout(this.#init.sessionIdleTimeoutMs) })
        } catch (err) {
          // A clean end of the session also surfaces as UnexpectedEOFError.
          if ((err as Error).name === 'UnexpectedEOFError' && stream.remoteWriteStatus === 'closed') break
          throw err
        }
        const req = decodeMap(frame.subarray())
        await lp.write(dagCbor.encode(await this.#answer(req)), { signal: AbortSignal.timeout(this.#init.sessionIdleTimeoutMs) })
      }
      await stream.close()
    } catch (err) {
      this.#log.debug('clock session aborted: %s', errorMessage(err))
      stream.abort(err as Error)
    }
  }

  async #answer (req: Record<string, unknown>): Promise<Record<string, unknown>> {
    const clock = this.#resolve(req.clock)
    if (clock === undefined) throw new TypeError(`unknown clock ${describe(req.clock)}`)
    if (req.op === 'heads') return { v: CLOCK_MESSAGE_VERSION, heads: clock.heads }
    if (req.op === 'get') {
      const cid = CID.asCID(req.cid)
      if (cid === null || !isEventCid(cid)) throw new TypeError('get: cid is not an event CID')
      const block = await clock.store.get(cid)
      if (block === undefined || block.length > this.#init.maxBlockBytes) return { v: CLOCK_MESSAGE_VERSION, block: null }
      const prefetch = typeof req.prefetch === 'number' && Number.isSafeInteger(req.prefetch) ? Math.min(Math.max(req.prefetch, 0), MAX_PREFETCH) : 0
      if (prefetch === 0) return { v: CLOCK_MESSAGE_VERSION, block }
      const have = Array.isArray(req.have) ? req.have.slice(0, MAX_HAVE).map((h) => CID.asCID(h)?.toString()) : []
      return { v: CLOCK_MESSAGE_VERSION, block, ancestors: await this.#ancestors(clock, cid, prefetch, new Set(have), this.#init.maxBlockBytes - block.length) }
    }
    throw new TypeError(`unknown op ${describe(req.op)}`)
  }

  /** Up to `limit` ancestors of `cid`, breadth first, not entering `have`, within `budget` bytes. */
  async #ancestors (clock: MerkleClock<T>, cid: CID, limit: number, have: Set<string | undefined>, budget: number): Promise<Uint8Array[]> {
    const out: Uint8Array[] = []
    const seen = new Set<string>([cid.toString()])
    const queue: CID[] = [cid]
    for (let i = 0; i < queue.length && out.length < limit; i++) {
      const event = await clock.get(queue[i]!)
      for (const parent of event.parents) {
        const key = parent.toString()
        if (seen.has(key) || have.has(key)) continue
        seen.add(key)
        const bytes = await clock.store.get(parent)
        if (bytes === undefined || bytes.length > budget || out.length >= limit) return out
        budget -= bytes.length
        out.push(bytes)
        queue.push(parent)
      }
    }
    return out
  }
}

  /**
   * What we hold, for the peer to stop its prefetch at: our heads, then events at distances
   * 1, 2, 4, 8... behind the first head along first parents (so that when the clocks are
   * concurrent the peer meets one of them within about our own divergence), at most MAX_HAVE.
   */
async function haveList<T> (clock: MerkleClock<T>): Promise<CID[]> {
  const heads = clock.heads
    const out = heads.slice(0, MAX_HAVE)
    let cid = heads[0]
    let distance = 0
    let next = 1
    for (let steps = 0; cid !== undefined && out.length < MAX_HAVE && steps < MAX_HAVE_WALK; steps++) {
      const parent: CID | undefined = (await clock.get(cid)).parents[0]
      if (parent === undefined) break
      cid = parent
      if (++distance === next) {
        out.push(cid)
        next *= 2
      }
    }
    return out
  }

export type SyncResult = MergeResult & { blockRequests: number, blocksReceived: number }

/**
 * Serves a `MerkleClock` over `/p2p-mcp/clock/1.0.0` and syncs it from other peers.
 *
 * Wire format: one stream per session; each message a varint-length-prefixed dag-cbor map
 * with `v: 1`. Requests: `{ v, op: 'heads' }` → `{ v, heads: [CID] }`;
 * `{ v, op: 'get', cid }` → `{ v, block: bytes | null }`. Answers come in request order.
 * A malformed or oversized request aborts that stream only.
 */
export class ClockExchange<T = unknown> extends ExchangeCore<T> {
  readonly #clock: MerkleClock<T>

  constructor (node: ClockNode, clock: MerkleClock<T>, init?: ClockExchangeInit) {
    super(node, CLOCK_PROTOCOL, () => clock, init)
    this.#clock = clock
  }

  /** Asks `peer` for its heads and merges them, fetching the missing events over one session. */
  async sync (peer: ClockPeer, options?: SyncOptions): Promise<SyncResult> {
    return this.syncClock(peer, this.#clock, undefined, options)
  }
}

/**
 * Serves several named Merkle clocks over `/p2p-mcp/clocks/1.0.0` (one DAG per event-topic
 * partition, say) and syncs one of them from another peer. The wire format is that of
 * `/p2p-mcp/clock/1.0.0` with a `clock` string in every request naming the DAG; a request
 * naming a clock the server does not serve aborts that stream.
 */
export class ClockSetExchange<T = unknown> extends ExchangeCore<T> {
  readonly #clocks: (name: string) => MerkleClock<T> | undefined

  constructor (node: ClockNode, clocks: (name: string) => MerkleClock<T> | undefined, init?: ClockExchangeInit) {
    super(node, CLOCK_SET_PROTOCOL, (name) => typeof name === 'string' && name.length <= MAX_CLOCK_NAME_LENGTH ? clocks(name) : undefined, init)
    this.#clocks = clocks
  }

  /** Merges the clock `name` of `peer` into ours of that name, fetching only the missing events. */
  async sync (peer: ClockPeer, name: string, options?: SyncOptions): Promise<SyncResult> {
    const clock = this.#clocks(name)
    if (clock === undefined) throw new ClockExchangeError(`no local clock named ${JSON.stringify(name)} to merge into`)
    return this.syncClock(peer, clock, name, options)
  }
}
