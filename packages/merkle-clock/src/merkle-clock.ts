import type { CID } from 'multiformats/cid'
import { MemoryBlockStore } from './block-store.js'
import { DEFAULT_FETCH_CONCURRENCY, DEFAULT_MAX_BLOCK_BYTES, DEFAULT_MAX_MERGE_EVENTS, DEFAULT_MAX_PARENTS } from './constants.js'
import { FetchError, InvalidEventError, InvalidParametersError, TooManyEventsError, UnknownEventError, errorMessage } from './errors.js'
import { asEventCid, compareCids, decodeEvent, encodeSortedEvent, sortCids, verifyEvent } from './event.js'
import type { AbortOptions, BlockStore, ClockEvent, ClockOrder, EventBlock, Logger, MergeOptions, MergeResult, MerkleClockInit } from './types.js'
import { noopLogger } from './logger.js'

/** A decoded event in the clock's index. */
interface Node<T> {
  cid: CID
  key: string
  value: ClockEvent<T>
}

/** What the fetch walk of a merge saw. */
interface FetchWalk<T> {
  /** The fetched, verified events. */
  fetched: Map<string, EventBlock<T>>
  /** Keys of every parent of a fetched event. */
  parents: Set<string>
  /** Stored events the walk stopped at (not remote heads themselves). */
  stops: Map<string, CID>
  /** Whether some remote head was already stored. */
  remoteWasStored: boolean
}

const noop = (): void => {}

function positiveInteger (option: string, value: number | undefined, fallback: number): number {
  if (value === undefined) return fallback
  if (!Number.isSafeInteger(value) || value < 1) throw new InvalidParametersError(option, value, 'a positive integer')
  return value
}

/**
 * A Merkle clock (Merkle-CRDTs, Sanjuán et al. 2020): a grow-only DAG of events, each a
 * dag-cbor block linking by CID to the heads it was created on; the clock is its set of
 * heads. `advance` adds an event on top of the heads; `merge` joins a remote clock by
 * fetching only the events this one lacks, verifying each against its CID.
 *
 * Operations that change the clock run one at a time in call order.
 */
export class MerkleClock<T = unknown> {
  readonly store: BlockStore
  readonly #index = new Map<string, Node<T>>()
  readonly #maxBlockBytes: number
  readonly #maxParents: number
  readonly #log: Logger
  #heads: CID[]
  /** Largest height among the heads, when known. */
  #headHeight: number | undefined
  #queue: Promise<unknown> = Promise.resolve()

  constructor (init?: MerkleClockInit) {
    this.store = init?.store ?? new MemoryBlockStore()
    this.#heads = sortCids((init?.heads ?? []).map(asEventCid))
    this.#maxBlockBytes = positiveInteger('maxBlockBytes', init?.maxBlockBytes, DEFAULT_MAX_BLOCK_BYTES)
    this.#maxParents = positiveInteger('maxParents', init?.maxParents, DEFAULT_MAX_PARENTS)
    this.#log = init?.logger ?? noopLogger
  }

  /** The current heads, sorted by CID bytes (a fresh array). */
  get heads (): CID[] {
    return [...this.#heads]
  }

  /** Creates an event with `payload` on top of the current heads, which it replaces. */
  async advance (payload: T, options?: AbortOptions): Promise<EventBlock<T>> {
    return this.#exclusive(async () => {
      options?.signal?.throwIfAborted()
      if (this.#heads.length > this.#maxParents) {
        throw new InvalidEventError(`the clock has ${this.#heads.length} concurrent heads, over maxParents ${this.#maxParents}; ` +
          'peers would refuse an event linking them all (raise maxParents on every peer)')
      }
      if (this.#headHeight === undefined) {
        let height = 0
        for (const head of this.#heads) height = Math.max(height, (await this.#node(head, options)).value.height)
        this.#headHeight = height
      }
      const block = await encodeSortedEvent(payload, this.#heads, this.#headHeight + 1)
      if (block.bytes.length > this.#maxBlockBytes) {
        throw new InvalidEventError(`the event is ${block.bytes.length} bytes, over maxBlockBytes ${this.#maxBlockBytes}; ` +
          'peers would refuse it (keep payloads small, or raise maxBlockBytes on every peer)')
      }
      await this.store.put(block.cid, block.bytes, options)
      const key = block.cid.toString()
      this.#index.set(key, { cid: block.cid, key, value: block.value })
      this.#heads = [block.cid]
      this.#headHeight = block.value.height
      return block
    })
  }

  /**
   * Joins the clock whose heads are `remoteHeads`: fetches the events this clock lacks
   * (walking back from the remote heads, `concurrency` fetches at a time, stopping at events
   * it has), verifies and checks all of them, then stores them parents first and sets the
   * heads to the maximal events of both clocks. A bad block or a failed fetch throws and
   * applies nothing. A join: commutative, associative, idempotent.
   */
  async merge (remoteHeads: Iterable<CID>, options?: MergeOptions): Promise<MergeResult> {
    const remote = sortCids([...remoteHeads].map(asEventCid))
    const concurrency = positiveInteger('concurrency', options?.concurrency, DEFAULT_FETCH_CONCURRENCY)
    const maxEvents = positiveInteger('maxEvents', options?.maxEvents, DEFAULT_MAX_MERGE_EVENTS)
    return this.#exclusive(async () => {
      const walk = await this.#fetchMissing(remote, options?.fetch, concurrency, maxEvents, options?.signal)
      const fetched = walk.fetched
      // Heights strictly grow along links, so ascending height is a causal order.
      const added = [...fetched.values()].sort((a, b) => a.value.height - b.value.height || compareCids(a.cid, b.cid))
      for (const block of added) {
        let height = 0
        for (const parent of block.value.parents) {
          const p = fetched.get(parent.toString()) ?? await this.#node(parent, options)
          height = Math.max(height, p.value.height)
        }
        if (block.value.height !== height + 1) {
          throw new InvalidEventError(`event ${block.cid.toString()} has height ${block.value.height}, its parents make it ${height + 1}; nothing was applied`)
        }
      }
      for (const block of added) {
        await this.store.put(block.cid, block.bytes, options)
        const key = block.cid.toString()
        this.#index.set(key, { cid: block.cid, key, value: block.value })
      }
      this.#heads = await this.#maximal([...this.#heads, ...remote], walk, options)
      this.#headHeight = undefined
      this.#log.debug('merged %d remote heads, fetched %d events, %d heads now', remote.length, added.length, this.#heads.length)
      return { heads: [...this.#heads], added: added.map((b) => b.cid) }
    })
  }

  /** The remote heads that are not in this clock's store (an empty array: nothing to fetch). */
  async missing (remoteHeads: Iterable<CID>, options?: AbortOptions): Promise<CID[]> {
    const out: CID[] = []
    for (const cid of sortCids([...remoteHeads].map(asEventCid))) {
      if (!this.#index.has(cid.toString()) && !(await this.store.has(cid, options))) out.push(cid)
    }
    return out
  }

  /** Order of event `a` relative to event `b` by reachability: 'before' when `a` is an ancestor of `b`. */
  async compare (a: CID, b: CID, options?: AbortOptions): Promise<ClockOrder> {
    const na = await this.#node(asEventCid(a), options)
    const nb = await this.#node(asEventCid(b), options)
    if (na.key === nb.key) return 'equal'
    if (await this.#isAncestor(na, nb, options)) return 'before'
    if (await this.#isAncestor(nb, na, options)) return 'after'
    return 'concurrent'
  }

  /** The event `cid` names; `UnknownEventError` when the store lacks it. */
  async get (cid: CID, options?: AbortOptions): Promise<ClockEvent<T>> {
    return (await this.#node(asEventCid(cid), options)).value
  }

  /**
   * Every event reachable from the heads, in causal order (parents before children): by
   * height, then by CID bytes, so every replica with the same heads lists the same sequence.
   */
  async * events (options?: AbortOptions): AsyncGenerator<{ cid: CID, value: ClockEvent<T> }> {
    const seen = new Map<string, Node<T>>()
    const stack = [...this.#heads]
    while (stack.length > 0) {
      const cid = stack.pop()!
      const key = cid.toString()
      if (seen.has(key)) continue
      const node = await this.#node(cid, options)
      seen.set(key, node)
      for (const p of node.value.parents) if (!seen.has(p.toString())) stack.push(p)
    }
    const order = [...seen.values()].sort((a, b) => a.value.height - b.value.height || compareCids(a.cid, b.cid))
    for (const node of order) yield { cid: node.cid, value: node.value }
  }

  async #exclusive<R> (fn: () => Promise<R>): Promise<R> {
    const run = this.#queue.then(fn, fn)
    this.#queue = run.catch(noop)
    return run
  }

  async #node (cid: CID, options?: AbortOptions): Promise<Node<T>> {
    const key = cid.toString()
    let node = this.#index.get(key)
    if (node !== undefined) return node
    const bytes = await this.store.get(cid, options)
    if (bytes === undefined) throw new UnknownEventError(key)
    node = { cid, key, value: decodeEvent<T>(bytes, { maxBytes: this.#maxBlockBytes, maxParents: this.#maxParents }) }
    this.#index.set(key, node)
    return node
  }


  /** True when `a` is a proper ancestor of `b`; walks back from `b` no lower than `a`'s height. */
  async #isAncestor (a: Node<T>, b: Node<T>, options?: AbortOptions): Promise<boolean> {
    if (a.value.height >= b.value.height) return false
    const seen = new Set<string>()
    const stack = [b]
    while (stack.length > 0) {
      const node = stack.pop()!
      for (const parent of node.value.parents) {
        const key = parent.toString()
        if (key === a.key) return true
        if (seen.has(key)) continue
        seen.add(key)
        const p = await this.#node(parent, options)
        if (p.value.height > a.value.height) stack.push(p)
      }
    }
    return false
  }

  /**
   * The candidates (current and remote heads) that are no other candidate's ancestor, sorted
   * by bytes. A candidate is an ancestor of a remote head when it is a parent of a fetched
   * event, or an ancestor of a stored event the fetch walk stopped at; so only those stopping
   * points (and, when a remote head was already stored, every candidate) are walked from,
   * down to the lowest candidate's height. The store being closed under ancestry is what
   * makes this enough: a fetched event is never an ancestor of a stored one.
   */
  async #maximal (candidates: CID[], walk: FetchWalk<T>, options?: AbortOptions): Promise<CID[]> {
    const unique = sortCids(candidates)
    if (unique.length <= 1) return unique
    const nodes = await Promise.all(unique.map(async (c) => this.#node(c, options)))
    const minHeight = Math.min(...nodes.map((n) => n.value.height))
    const keys = new Set(nodes.map((n) => n.key))
    const dominated = new Set(nodes.filter((n) => walk.parents.has(n.key)).map((n) => n.key))
    const seen = new Set<string>()
    const sources = await Promise.all([...walk.stops.values()].map(async (c) => this.#node(c, options)))
    const stack = walk.remoteWasStored ? [...nodes, ...sources] : sources.filter((n) => n.value.height > minHeight)
    while (stack.length > 0 && dominated.size < keys.size - 1) {
      const node = stack.pop()!
      for (const parent of node.value.parents) {
        const key = parent.toString()
        if (seen.has(key)) continue
        seen.add(key)
        if (keys.has(key)) dominated.add(key)
        const p = await this.#node(parent, options)
        if (p.value.height > minHeight) stack.push(p)
      }
    }
    return nodes.filter((n) => !dominated.has(n.key)).map((n) => n.cid)
  }

  /** Walks back from `heads`, fetching and verifying every event neither indexed nor stored. */
  async #fetchMissing (heads: CID[], fetch: MergeOptions['fetch'], concurrency: number, maxEvents: number,
    signal: AbortSignal | undefined): Promise<FetchWalk<T>> {
    const fetched = new Map<string, EventBlock<T>>()
    const walk: FetchWalk<T> = { fetched, parents: new Set(), stops: new Map(), remoteWasStored: false }
    const headKeys = new Set(heads.map((h) => h.toString()))
    const seen = new Set<string>()
    const queue = [...heads]
    const opts = { signal }
    const visit = async (cid: CID, key: string): Promise<CID[]> => {
      if (this.#index.has(key) || await this.store.has(cid, opts)) {
        if (headKeys.has(key)) walk.remoteWasStored = true
        else walk.stops.set(key, cid)
        return []
      }
      if (fetch === undefined) throw new FetchError(key, 'it is not in the store and merge() was given no fetch')
      let bytes: Uint8Array | undefined
      try {
        bytes = await fetch(cid, opts)
      } catch (err) {
        signal?.throwIfAborted()
        throw new FetchError(key, errorMessage(err), { cause: err })
      }
      if (bytes === undefined) throw new FetchError(key, 'the peer does not have it')
      const block = await verifyEvent<T>(cid, bytes, { maxBytes: this.#maxBlockBytes, maxParents: this.#maxParents })
      fetched.set(key, block)
      if (fetched.size > maxEvents) throw new TooManyEventsError(maxEvents)
      for (const p of block.value.parents) walk.parents.add(p.toString())
      return block.value.parents
    }
    await new Promise<void>((resolve, reject) => {
      let active = 0
      let failed = false
      const fail = (err: unknown): void => {
        if (failed) return
        failed = true
        signal?.removeEventListener('abort', onAbort)
        reject(err instanceof Error ? err : new Error(String(err)))
      }
      // A fetch that ignores its signal must not hold the merge past an abort.
      const onAbort = (): void => fail(signal?.reason)
      signal?.addEventListener('abort', onAbort, { once: true })
      const done = (): void => {
        signal?.removeEventListener('abort', onAbort)
        resolve()
      }
      const pump = (): void => {
        if (failed) return
        if (signal?.aborted === true) {
          fail(signal.reason)
          return
        }
        while (active < concurrency && queue.length > 0) {
          const cid = queue.pop()!
          const key = cid.toString()
          if (seen.has(key)) continue
          seen.add(key)
          active++
          void visit(cid, key).then((parents) => {
            active--
            for (const p of parents) if (!seen.has(p.toString())) queue.push(p)
            pump()
          }, fail)
        }
        if (active === 0 && queue.length === 0) done()
      }
      pump()
    })
    return walk
  }
}
