/**
 * A linearizability checker in the style of Porcupine: Wing & Gong's search with Lowe's
 * memoisation (a cache of (linearized set, state) pairs), run separately on each partition
 * of the history (P-compositionality: per key for a key-value store).
 */

/** One completed or timed-out operation. */
export interface Operation<I, O> {
  client: number | string
  input: I
  /** Logical time of the call. */
  call: number
  /** undefined when the outcome is unknown (timed out). */
  output: O | undefined
  /** Logical time of the return; Infinity when the outcome is unknown. */
  return: number
}

export interface Model<S, I, O> {
  init(): S
  /** Whether `input` with `output` (undefined = unknown) is legal in `state`, and the next state. */
  step(state: S, input: I, output: O | undefined): [boolean, S]
  equal(a: S, b: S): boolean
  hash(state: S): number
  /** Splits a history into independent parts (e.g. by key). */
  partition?(history: Array<Operation<I, O>>): Array<Array<Operation<I, O>>>
  /**
   * Drops operations of unknown outcome whose effect nothing in the partition could have
   * observed: they can always be placed last, so the verdict is unchanged and the search is
   * smaller.
   */
  prune?(partition: Array<Operation<I, O>>): Array<Operation<I, O>>
}

export interface CheckOptions {
  /**
   * Give up (result 'unknown') after this long; 0 = no limit.
   * @default 0
   */
  timeoutMs?: number
}

export interface CheckResult<I, O> {
  ok: true | false | 'unknown'
  partitions: number
  /** The operations of the first partition found not linearizable. */
  counterexample?: Array<Operation<I, O>> | undefined
}

interface Node {
  id: number
  isCall: boolean
  time: number
  input: unknown
  output: unknown
  match: Node | undefined
  prev: Node | undefined
  next: Node | undefined
}

function makeList<I, O> (ops: Array<Operation<I, O>>): Node {
  const events: Array<{ time: number, isCall: boolean, id: number }> = []
  ops.forEach((op, id) => {
    events.push({ time: op.call, isCall: true, id })
    events.push({ time: op.return, isCall: false, id })
  })
  // At equal times calls go first: operations that touch are treated as concurrent.
  events.sort((a, b) => a.time - b.time || (a.isCall === b.isCall ? a.id - b.id : a.isCall ? -1 : 1))
  const head: Node = { id: -1, isCall: false, time: -Infinity, input: undefined, output: undefined, match: undefined, prev: undefined, next: undefined }
  const calls = new Map<number, Node>()
  let tail = head
  for (const ev of events) {
    const op = ops[ev.id]!
    const n: Node = { id: ev.id, isCall: ev.isCall, time: ev.time, input: op.input, output: op.output, match: undefined, prev: tail, next: undefined }
    if (ev.isCall) calls.set(ev.id, n)
    else {
      const c = calls.get(ev.id)!
      c.match = n
      n.match = c
    }
    tail.next = n
    tail = n
  }
  return head
}

function lift (call: Node): void {
  call.prev!.next = call.next
  if (call.next !== undefined) call.next.prev = call.prev
  const ret = call.match!
  ret.prev!.next = ret.next
  if (ret.next !== undefined) ret.next.prev = ret.prev
}

function unlift (call: Node): void {
  const ret = call.match!
  ret.prev!.next = ret
  if (ret.next !== undefined) ret.next.prev = ret
  call.prev!.next = call
  if (call.next !== undefined) call.next.prev = call
}

/** Zobrist keys: the hash of a set is the XOR of its members' keys, updated in O(1). */
function zobrist (n: number): Uint32Array {
  const z = new Uint32Array(n)
  let x = 0x9e3779b9
  for (let i = 0; i < n; i++) {
    x ^= x << 13; x >>>= 0; x ^= x >>> 17; x ^= x << 5; x >>>= 0
    z[i] = x
  }
  return z
}

class Bits {
  readonly w: Uint32Array
  h: number
  constructor (n: number, from?: Bits) {
    this.w = from !== undefined ? from.w.slice() : new Uint32Array((n + 31) >>> 5)
    this.h = from?.h ?? 0
  }

  set (i: number, z: Uint32Array): this {
    this.w[i >>> 5]! |= (1 << (i & 31))
    this.h = (this.h ^ z[i]!) >>> 0
    return this
  }

  equals (o: Bits): boolean {
    if (this.h !== o.h) return false
    for (let i = 0; i < this.w.length; i++) if (this.w[i] !== o.w[i]) return false
    return true
  }
}

/** Wing & Gong's search over the minimal operations, with Lowe's cache of (linearized set, state). */
function checkPartition<S, I, O> (model: Model<S, I, O>, ops: Array<Operation<I, O>>, deadline: number): boolean | 'unknown' {
  const head = makeList(ops)
  // Operations with a known outcome still to linearize; once none remain, the
  // unknown ones can all take effect after everything else (or never), so we are done.
  let known = 0
  for (const op of ops) if (op.return !== Infinity) known++
  let state = model.init()
  let linearized = new Bits(ops.length)
  const z = zobrist(ops.length)
  const cache = new Map<number, Array<{ bits: Bits, state: S }>>()
  const stack: Array<{ node: Node, state: S, bits: Bits }> = []
  let entry = head.next
  let steps = 0
  while (known > 0) {
    if (deadline > 0 && (++steps & 0x3ff) === 0 && performance.now() > deadline) return 'unknown'
    if (entry === undefined) return false
    if (entry.isCall) {
      const ret = entry.match!
      const out = ret.time === Infinity ? undefined : ret.output as O
      const [ok, next] = model.step(state, entry.input as I, out)
      if (ok) {
        const bits = new Bits(ops.length, linearized).set(entry.id, z)
        const h = (bits.h ^ Math.imul(model.hash(next), 0x9e3779b1)) >>> 0
        let bucket = cache.get(h)
        const seen = bucket?.some(c => c.bits.equals(bits) && model.equal(c.state, next)) === true
        if (!seen) {
          if (bucket === undefined) { bucket = []; cache.set(h, bucket) }
          bucket.push({ bits, state: next })
          stack.push({ node: entry, state, bits: linearized })
          state = next
          linearized = bits
          if (ret.time !== Infinity) known--
          lift(entry)
          entry = head.next
          continue
        }
      }
      entry = entry.next
    } else {
      // A return whose call could not be placed: backtrack.
      const top = stack.pop()
      if (top === undefined) return false
      state = top.state
      linearized = top.bits
      if (top.node.match!.time !== Infinity) known++
      unlift(top.node)
      entry = top.node.next
    }
  }
  return true
}

/** Checks whether `history` is linearizable with respect to `model`. */
export function checkLinearizability<S, I, O> (model: Model<S, I, O>, history: Array<Operation<I, O>>, options: CheckOptions = {}): CheckResult<I, O> {
  for (const op of history) {
    if (typeof op.call !== 'number' || typeof op.return !== 'number' || Number.isNaN(op.call) || Number.isNaN(op.return) || op.return < op.call) {
      throw new TypeError(`operation of client ${String(op.client)} has call ${op.call} and return ${op.return}: need numbers with call ≤ return (Infinity for unknown)`)
    }
  }
  const parts = model.partition !== undefined ? model.partition(history) : [history]
  const timeoutMs = options.timeoutMs ?? 0
  const deadline = timeoutMs > 0 ? performance.now() + timeoutMs : 0
  let unknown = false
  for (const whole of parts) {
    const part = model.prune !== undefined ? model.prune(whole) : whole
    const r = checkPartition(model, part, deadline)
    if (r === false) return { ok: false, partitions: parts.length, counterexample: whole }
    if (r === 'unknown') unknown = true
  }
  return { ok: unknown ? 'unknown' : true, partitions: parts.length }
}
