import { createHash } from 'node:crypto'
import { encodeCanonicalPairs } from './canonical.js'
import { compareCodePoints } from './code-points.js'
import { DEFAULT_MAX_CLOCK_ENTRIES, DEFAULT_MAX_CLOCK_JSON_BYTES, MAX_NODE_ID_LENGTH } from './constants.js'
import { ClockHashMismatchError, InvalidClockJsonError, InvalidCounterError, InvalidNodeIdError, InvalidParametersError, errorMessage } from './errors.js'
import { pythonJsonEntries } from './python-json.js'
import type { ClockOrder, HashOptions, VectorClockFromJsonOptions, VectorClockJson } from './types.js'

type Entries = Record<string, number> | Iterable<readonly [string, number]>

function checkId (id: unknown): string {
  if (typeof id !== 'string') throw new InvalidNodeIdError(id, 'it is not a string')
  if (id.length > MAX_NODE_ID_LENGTH) throw new InvalidNodeIdError(id, `it is ${id.length} code units long`)
  if (!id.isWellFormed()) throw new InvalidNodeIdError(id, 'it contains a lone surrogate')
  return id
}

function checkCounter (id: string, n: unknown): number {
  if (typeof n !== 'number' || !Number.isSafeInteger(n) || n < 0) throw new InvalidCounterError(id, n)
  return n
}

function sha256Hex (bytes: Uint8Array | string): string {
  return createHash('sha256').update(bytes).digest('hex')
}

function sortEntries (vector: Map<string, number>): Array<[string, number]> {
  return [...vector].sort((a, b) => compareCodePoints(a[0], b[0]))
}

/** sha256 of the DAG-CBOR array of the `[id, counter]` pairs with counter > 0, in code-point order. */
function canonicalHash (sorted: ReadonlyArray<readonly [string, number]>): string {
  return sha256Hex(encodeCanonicalPairs(sorted.filter(([, n]) => n > 0)))
}

/** The seed's get_hash(): sha256 of json.dumps(sorted(vector.items()), sort_keys=True), zeros included. */
function pythonJsonHash (sorted: ReadonlyArray<readonly [string, number]>): string {
  return sha256Hex(pythonJsonEntries(sorted))
}

/**
 * A vector clock with the API of the IPFS Accelerate seed's `MerkleClock`: `tick`, `merge`
 * (a join), `update` (merge then tick, as the seed does), `compare`, `order`, and a sha256
 * hash that is either canonical (equal clocks hash equally) or byte-for-byte the seed's
 * `get_hash()`.
 *
 * Like the seed's, the clock keeps entries whose counter is 0 (its own entry from creation,
 * and zeros merged in from others): the `python-json` hash sees them, the canonical hash,
 * `compare` and `order` do not.
 */
export class VectorClock {
  readonly nodeId: string
  #vector = new Map<string, number>()
  #sorted: Array<[string, number]> | undefined
  #canonicalHash: string | undefined
  #pythonHash: string | undefined

  constructor (nodeId: string, entries?: Entries) {
    this.nodeId = checkId(nodeId)
    if (entries !== undefined) {
      const pairs = Symbol.iterator in entries ? entries : Object.entries(entries)
      for (const pair of pairs) {
        if (!Array.isArray(pair) || pair.length !== 2) throw new TypeError(`clock entry ${String(pair)} is not an [id, counter] pair`)
        const id = checkId(pair[0])
        this.#vector.set(id, Math.max(this.#vector.get(id) ?? 0, checkCounter(id, pair[1])))
      }
    }
    if (!this.#vector.has(nodeId)) this.#vector.set(nodeId, 0)
  }

  /** Adds 1 to this node's own entry. */
  tick (): this {
    const n = this.#vector.get(this.nodeId) ?? 0
    if (n >= Number.MAX_SAFE_INTEGER) throw new InvalidCounterError(this.nodeId, n + 1)
    this.#vector.set(this.nodeId, n + 1)
    this.#changed()
    return this
  }

  /** Pointwise maximum with `other`, without a tick: a join (commutative, associative, idempotent). */
  merge (other: VectorClock): this {
    let changed = false
    for (const [id, n] of other.#vector) {
      const m = this.#vector.get(id)
      if (m === undefined || n > m) {
        this.#vector.set(id, n)
        changed = true
      }
    }
    if (changed) this.#changed()
    return this
  }

  /** The seed's `update()`: `merge(other)` then `tick()`. Not a join: it is not idempotent. */
  update (other: VectorClock): this {
    return this.merge(other).tick()
  }

  /** Seed-compatible: -1 when this happened before `other`, 1 when after, 0 when equal or concurrent. */
  compare (other: VectorClock): -1 | 0 | 1 {
    const o = this.order(other)
    return o === 'before' ? -1 : o === 'after' ? 1 : 0
  }

  /** Causal order of this clock relative to `other`; zero and missing entries are the same. */
  order (other: VectorClock): ClockOrder {
    let less = false
    let greater = false
    for (const [id, n] of this.#vector) {
      const m = other.#vector.get(id) ?? 0
      if (n < m) less = true
      else if (n > m) greater = true
    }
    for (const [id, m] of other.#vector) {
      if (m > 0 && !this.#vector.has(id)) less = true
    }
    if (less) return greater ? 'concurrent' : 'before'
    return greater ? 'after' : 'equal'
  }

  /** True when both clocks have the same non-zero entries. */
  equals (other: VectorClock): boolean {
    return this.order(other) === 'equal'
  }

  /** The counter of `id`: 0 when the clock has no entry for it. */
  get (id: string): number {
    return this.#vector.get(id) ?? 0
  }

  /** Number of entries, zeros included. */
  get size (): number {
    return this.#vector.size
  }

  /** All entries, zeros included, as fresh `[id, counter]` pairs sorted by code point. */
  entries (): Array<[string, number]> {
    return this.#sortedEntries().map(([id, n]) => [id, n])
  }

  /**
   * Hex sha256 of the clock. `canonical` (the default) hashes the DAG-CBOR encoding of the
   * array of `[id, counter]` pairs with counter > 0, sorted by code point, so that equal
   * clocks hash equally; `python-json` is the seed's `get_hash()`:
   * `sha256(json.dumps(sorted(vector.items()), sort_keys=True).encode())`, zeros included.
   */
  hash (options?: HashOptions): string {
    const encoding = options?.encoding ?? 'canonical'
    if (encoding === 'canonical') {
      this.#canonicalHash ??= canonicalHash(this.#sortedEntries())
      return this.#canonicalHash
    }
    if (encoding === 'python-json') {
      this.#pythonHash ??= pythonJsonHash(this.#sortedEntries())
      return this.#pythonHash
    }
    throw new InvalidParametersError('encoding', encoding, "'canonical' or 'python-json'")
  }

  /**
   * The seed's `to_dict()` shape (`node_id`, `vector`, `merkle_root` = the python-json hash,
   * which the seed can read) plus `hash`, the canonical hash.
   */
  toJSON (): VectorClockJson {
    const vector: Record<string, number> = Object.create(null) as Record<string, number>
    for (const [id, n] of this.#sortedEntries()) vector[id] = n
    return { node_id: this.nodeId, vector, merkle_root: this.hash({ encoding: 'python-json' }), hash: this.hash() }
  }

  /**
   * Rebuilds a clock from `toJSON()` output (an object or its JSON text). Every hash present
   * (`hash`, `merkle_root`; at least one is required) is recomputed over `vector` as given
   * and must match: a forged or stale hash throws `ClockHashMismatchError`.
   */
  static fromJSON (json: unknown, options?: VectorClockFromJsonOptions): VectorClock {
    const maxEntries = options?.maxEntries ?? DEFAULT_MAX_CLOCK_ENTRIES
    const maxBytes = options?.maxBytes ?? DEFAULT_MAX_CLOCK_JSON_BYTES
    if (typeof json === 'string') {
      if (json.length > maxBytes) throw new InvalidClockJsonError(`the text is ${json.length} characters, over maxBytes ${maxBytes} (raise it with { maxBytes })`)
      try {
        json = JSON.parse(json)
      } catch (err) {
        throw new InvalidClockJsonError('the text is not JSON', { cause: err })
      }
    }
    if (typeof json !== 'object' || json === null || Array.isArray(json)) throw new InvalidClockJsonError('it is not an object')
    const { node_id: nodeId, vector, merkle_root: merkleRoot, hash } = json as Record<string, unknown>
    if (typeof nodeId !== 'string') throw new InvalidClockJsonError('node_id is not a string')
    if (typeof vector !== 'object' || vector === null || Array.isArray(vector)) throw new InvalidClockJsonError('vector is not an object')
    if (merkleRoot !== undefined && typeof merkleRoot !== 'string') throw new InvalidClockJsonError('merkle_root is not a string')
    if (hash !== undefined && typeof hash !== 'string') throw new InvalidClockJsonError('hash is not a string')
    if (merkleRoot === undefined && hash === undefined) throw new InvalidClockJsonError('it carries neither hash nor merkle_root')
    const keys = Object.keys(vector)
    if (keys.length > maxEntries) throw new InvalidClockJsonError(`vector has ${keys.length} entries, over maxEntries ${maxEntries} (raise it with { maxEntries })`)
    const given = new Map<string, number>()
    try {
      for (const id of keys) given.set(checkId(id), checkCounter(id, (vector as Record<string, unknown>)[id]))
      checkId(nodeId)
    } catch (err) {
      throw new InvalidClockJsonError(errorMessage(err), { cause: err })
    }
    // The hashes are over `vector` as sent, before the node's own entry is added.
    const sorted = sortEntries(given)
    if (hash !== undefined) {
      const actual = canonicalHash(sorted)
      if (hash !== actual) throw new ClockHashMismatchError('hash', hash, actual)
    }
    if (merkleRoot !== undefined) {
      const actual = pythonJsonHash(sorted)
      if (merkleRoot !== actual) throw new ClockHashMismatchError('merkle_root', merkleRoot, actual)
    }
    return new VectorClock(nodeId, given)
  }

  /** An independent copy. */
  clone (): VectorClock {
    const copy = new VectorClock(this.nodeId)
    copy.#vector = new Map(this.#vector) // entries already checked: no need to validate again
    return copy
  }

  #sortedEntries (): Array<[string, number]> {
    this.#sorted ??= sortEntries(this.#vector)
    return this.#sorted
  }

  #changed (): void {
    this.#sorted = undefined
    this.#canonicalHash = undefined
    this.#pythonHash = undefined
  }
}
