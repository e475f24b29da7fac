import { MAX_DEGREE } from './constants.js'
import { ForeignHandleError, InvalidKeyError, KeyIncreaseError } from './errors.js'
import type { Comparator, FibonacciHeapInit, HeapNode } from './types.js'

/**
 * Ownership token. A node points at the token of the heap it was inserted into; `merge`
 * links the absorbed heap's token under the survivor's (union-find with path halving),
 * so handles of a merged heap are re-homed in O(1) instead of O(n), and `clear()` orphans
 * every handle at once by detaching its token.
 */
class Owner {
  heap: object | null
  parent: Owner | null = null
  constructor (heap: object) {
    this.heap = heap
  }
}

function ownerOf (token: Owner): object | null {
  let t = token
  while (t.parent !== null) {
    const p = t.parent
    if (p.parent !== null) t.parent = p.parent
    t = p
  }
  return t.heap
}

/**
 * A heap node, and the handle users hold. Every field is set in the constructor so that
 * all nodes share one hidden class (monomorphic property access in the hot loops).
 *
 * `left`/`right` link siblings in a parent's child list (doubly linked, null-terminated;
 * the first child has `left === null`). A root is either in the
 * degree table (flag IN_TABLE, at index `degree`) or on the heap's singly linked pending
 * list (through `right`), where new roots wait for the next consolidation. Degree and
 * flags share one small integer, `bits` (degree << 2 | IN_TABLE | MARK): smaller nodes
 * mean fewer cache misses on large heaps.
 */
class Node<K, V> implements HeapNode<K, V> {
  declare key: K
  declare value: V
  declare parent: Node<K, V> | null
  declare child: Node<K, V> | null
  declare left: Node<K, V> | null
  declare right: Node<K, V> | null
  declare bits: number
  declare owner: Owner | null

  constructor (key: K, value: V, owner: Owner) {
    // Fields are `declare`d and assigned here, in one order: one hidden class, no
    // define-then-assign of class fields.
    this.key = key
    this.value = value
    this.parent = null
    this.child = null
    this.left = null
    this.right = null
    this.bits = 0
    this.owner = owner
  }
}

const MARK = 1
const IN_TABLE = 2
const DEGREE_SHIFT = 2
/** Degrees tracked in the #occupied bit mask (0..30); larger tables are scanned linearly. */
const MASK_DEGREES = 30

type Table<K, V> = Array<Node<K, V> | null>

function newTable<K, V> (): Table<K, V> {
  return new Array<Node<K, V> | null>(MAX_DEGREE).fill(null)
}

/**
 * A Fibonacci heap (Fredman & Tarjan, 1987) with handles.
 *
 * | operation | cost |
 * | --- | --- |
 * | `insert`, `peek`, `merge`, `size` | O(1) |
 * | `decreaseKey` | O(1) amortised |
 * | `extractMin`, `delete` | O(log n) amortised |
 *
 * Without a comparator keys must be numbers (not NaN) and are compared with `<` inline,
 * with no function call in the hot loops.
 *
 * The root list is kept in two parts: a degree table that persists between operations
 * (after a consolidation it holds every root, at most one per degree, exactly as the
 * textbook root list does) and a pending list of roots added since (inserts, cut nodes,
 * children of an extracted minimum, merged heaps). `extractMin` links only the pending
 * roots into the table and then scans the table for the new minimum, instead of walking
 * and rebuilding the whole root list: same amortised bounds, far fewer pointer writes.
 */
export class FibonacciHeap<K = number, V = unknown> implements Iterable<HeapNode<K, V>> {
  readonly #compare: Comparator<K> | undefined
  #min: Node<K, V> | null = null
  #size = 0
  #owner: Owner
  #table: Table<K, V> = newTable()
  /** Numeric keys of the table's roots, so that finding the minimum reads one flat array. */
  #tableKeys = new Float64Array(MAX_DEGREE)
  /** Highest index of #table that may be occupied. */
  #maxDegree = -1
  /** Bit d set when table slot d (d <= 30) holds a root: the minimum scan visits only those. */
  #occupied = 0
  #pendingHead: Node<K, V> | null = null
  #pendingTail: Node<K, V> | null = null
  /** Degree tables of merged heaps, folded in at the next consolidation. */
  #absorbed: Array<Table<K, V>> = []

  constructor (init: FibonacciHeapInit<K> = {}) {
    if (init === null || typeof init !== 'object') {
      throw new TypeError(`FibonacciHeap options must be an object, got ${String(init)}`)
    }
    const compare = init.compare
    if (compare !== undefined && typeof compare !== 'function') {
      throw new TypeError(`options.compare must be a function (a, b) => number, got ${typeof compare}`)
    }
    this.#compare = compare
    this.#owner = new Owner(this)
  }

  /** Builds a heap from `[key, value]` pairs. */
  static from<K, V> (entries: Iterable<readonly [K, V]>, init?: FibonacciHeapInit<K>): FibonacciHeap<K, V> {
    const heap = new FibonacciHeap<K, V>(init)
    for (const [key, value] of entries) heap.insert(key, value)
    return heap
  }

  /** The number of nodes in the heap. O(1). */
  get size (): number {
    return this.#size
  }

  isEmpty (): boolean {
    return this.#min === null
  }

  /** Inserts a key and value and returns the node's handle. O(1). */
  insert (key: K, value: V): HeapNode<K, V> {
    const compare = this.#compare
    if (compare === undefined) checkNumericKey(key)
    const node = new Node<K, V>(key, value, this.#owner)
    this.#pushPending(node)
    const min = this.#min
    if (min === null || (compare === undefined ? (key as number) < (min.key as number) : compare(key, min.key) < 0)) this.#min = node
    this.#size++
    return node
  }

  /** The handle with the smallest key, or `undefined` when the heap is empty. O(1). */
  peek (): HeapNode<K, V> | undefined {
    return this.#min ?? undefined
  }

  /**
   * Removes and returns the handle with the smallest key, or `undefined` when empty.
   * O(log n) amortised. The returned handle no longer belongs to the heap.
   */
  extractMin (): HeapNode<K, V> | undefined {
    const z = this.#min
    if (z === null) return undefined
    this.#removeRoot(z)
    return z
  }

  /**
   * Lowers the key of `node` to `key`. O(1) amortised.
   *
   * @throws {ForeignHandleError} (a RangeError) when `node` is not in this heap
   * @throws {KeyIncreaseError} (a RangeError) when `key` is greater than the node's key
   */
  decreaseKey (handle: HeapNode<K, V>, key: K): void {
    const node = this.#own(handle, 'decreaseKey')
    const compare = this.#compare
    if (compare === undefined) {
      checkNumericKey(key)
      if ((key as number) > (node.key as number)) throw new KeyIncreaseError(node.key, key)
      node.key = key
      const parent = node.parent
      if (parent !== null && (key as number) < (parent.key as number)) this.#cutAndCascade(node, parent)
      else if ((node.bits & IN_TABLE) !== 0 && this.#table[node.bits >> DEGREE_SHIFT] === node) this.#tableKeys[node.bits >> DEGREE_SHIFT] = key as number
      if ((key as number) < ((this.#min as Node<K, V>).key as number)) this.#min = node
    } else {
      if (compare(key, node.key) > 0) throw new KeyIncreaseError(node.key, key)
      node.key = key
      const parent = node.parent
      if (parent !== null && compare(key, parent.key) < 0) this.#cutAndCascade(node, parent)
      if (compare(key, (this.#min as Node<K, V>).key) < 0) this.#min = node
    }
  }

  /**
   * Removes `node` from the heap. O(log n) amortised. The node's key is not changed.
   *
   * @throws {ForeignHandleError} (a RangeError) when `node` is not in this heap
   */
  delete (handle: HeapNode<K, V>): void {
    const node = this.#own(handle, 'delete')
    const parent = node.parent
    if (parent !== null) this.#cutAndCascade(node, parent)
    this.#removeRoot(node)
  }

  /** Whether `node` is currently in this heap. O(α(n)). */
  has (handle: HeapNode<K, V>): boolean {
    const owner = handle instanceof Node ? (handle as Node<K, V>).owner : null
    return owner !== null && ownerOf(owner) === this
  }

  /**
   * Moves every node of `other` into this heap in O(1) and empties `other`. Handles from
   * `other` stay valid and now belong to this heap.
   *
   * @throws {TypeError} when `other` is this heap or orders keys differently
   */
  merge (other: FibonacciHeap<K, V>): this {
    if (!(other instanceof FibonacciHeap)) throw new TypeError(`merge() takes a FibonacciHeap, got ${String(other)}`)
    if (other === this) throw new TypeError('cannot merge a heap into itself')
    if (other.#compare !== this.#compare) {
      throw new TypeError('cannot merge heaps with different comparators: both must use the same compare function (or none)')
    }
    const otherMin = other.#min
    if (otherMin === null) return this
    // Pending lists are concatenated; degree tables are folded in at the next consolidation.
    const head = other.#pendingHead
    if (head !== null) {
      if (this.#pendingTail === null) this.#pendingHead = head
      else this.#pendingTail.right = head
      this.#pendingTail = other.#pendingTail
    }
    if (other.#maxDegree >= 0) this.#absorbed.push(other.#table)
    for (const t of other.#absorbed) this.#absorbed.push(t)
    const min = this.#min
    if (min === null || this.#less(otherMin.key, min.key)) this.#min = otherMin
    this.#size += other.#size
    other.#owner.parent = this.#owner
    other.#owner.heap = null
    other.#owner = new Owner(other)
    other.#reset(other.#maxDegree >= 0)
    return this
  }

  /** Removes every node. Handles held elsewhere no longer belong to the heap. */
  clear (): void {
    this.#owner.heap = null
    this.#owner = new Owner(this)
    this.#reset(true)
  }

  /** Iterates every handle without changing the heap, in no particular order. */
  * [Symbol.iterator] (): IterableIterator<HeapNode<K, V>> {
    const stack: Array<Node<K, V>> = []
    for (const table of [this.#table, ...this.#absorbed]) {
      for (const root of table) if (root !== null) stack.push(root)
    }
    for (let p = this.#pendingHead; p !== null; p = p.right) stack.push(p)
    while (stack.length > 0) {
      const node = stack.pop() as Node<K, V>
      yield node
      for (let c = node.child; c !== null; c = c.right) stack.push(c)
    }
  }

  /** Removes and yields every handle in ascending key order. */
  * drain (): IterableIterator<HeapNode<K, V>> {
    let node = this.extractMin()
    while (node !== undefined) {
      yield node
      node = this.extractMin()
    }
  }

  #less (a: K, b: K): boolean {
    return this.#compare === undefined ? (a as number) < (b as number) : this.#compare(a, b) < 0
  }

  #reset (newTables: boolean): void {
    if (newTables) {
      this.#table = newTable()
      this.#tableKeys = new Float64Array(MAX_DEGREE)
    }
    this.#absorbed = []
    this.#maxDegree = -1
    this.#occupied = 0
    this.#pendingHead = null
    this.#pendingTail = null
    this.#min = null
    this.#size = 0
  }

  #own (handle: HeapNode<K, V>, op: string): Node<K, V> {
    if (handle instanceof Node) {
      const owner = (handle as Node<K, V>).owner
      if (owner !== null && (owner.parent === null ? owner.heap : ownerOf(owner)) === this) return handle as Node<K, V>
    }
    throw new ForeignHandleError(op, handle)
  }

  #pushPending (node: Node<K, V>): void {
    node.right = null
    if (this.#pendingTail === null) this.#pendingHead = node
    else this.#pendingTail.right = node
    this.#pendingTail = node
  }

  /** Removes root `z` (the minimum, or a root being deleted), then consolidates. */
  #removeRoot (z: Node<K, V>): void {
    if ((z.bits & IN_TABLE) !== 0) this.#unTable(z)
    // Children become roots and go straight into the table (z may sit on the pending
    // list: the consolidation below skips it there).
    // (#addToTable clears their parent pointers and marks.)
    let c = z.child
    while (c !== null) {
      const next: Node<K, V> | null = c.right
      this.#addToTable(c)
      c = next
    }
    z.child = null
    z.left = null
    z.bits = 0
    z.owner = null
    this.#size--
    this.#consolidate(z)
    // Only now: z.right may have linked the pending list that consolidation walked.
    z.right = null
  }

  /** Links every pending root (and the roots of merged heaps) into the degree table, skipping `skip`; then finds the minimum. */
  #consolidate (skip: Node<K, V>): void {
    let w = this.#pendingHead
    this.#pendingHead = null
    this.#pendingTail = null
    while (w !== null) {
      const next: Node<K, V> | null = w.right
      if (w !== skip) this.#addToTable(w)
      w = next
    }
    if (this.#absorbed.length > 0) {
      const absorbed = this.#absorbed
      this.#absorbed = []
      for (const t of absorbed) {
        for (let i = 0; i < t.length; i++) {
          const r = t[i] as Node<K, V> | null
          if (r !== null) this.#addToTable(r)
        }
      }
    }
    const table = this.#table
    const compare = this.#compare
    let min = -1
    let top = -1
    if (compare === undefined && this.#maxDegree <= MASK_DEGREES) {
      const keys = this.#tableKeys
      let minKey = Infinity
      let m = this.#occupied
      if (m !== 0) top = 31 - Math.clz32(m)
      while (m !== 0) {
        const i = 31 - Math.clz32(m & -m)
        m &= m - 1
        if (keys[i] as number < minKey) {
          min = i
          minKey = keys[i] as number
        }
      }
    } else if (compare === undefined) {
      const keys = this.#tableKeys
      let minKey = Infinity
      for (let i = 0; i <= this.#maxDegree; i++) {
        if (table[i] === null) continue
        top = i
        if (min < 0 || keys[i] as number < minKey) {
          min = i
          minKey = keys[i] as number
        }
      }
    } else {
      for (let i = 0; i <= this.#maxDegree; i++) {
        const r = table[i] as Node<K, V> | null
        if (r === null) continue
        top = i
        if (min < 0 || compare(r.key, (table[min] as Node<K, V>).key) < 0) min = i
      }
    }
    this.#maxDegree = top
    this.#min = min < 0 ? null : table[min] as Node<K, V>
  }

  /** Links root `x` into the degree table, combining equal-degree trees. */
  #addToTable (root: Node<K, V>): void {
    const table = this.#table
    const compare = this.#compare
    let x = root
    let d = x.bits >> DEGREE_SHIFT
    let y = table[d] as Node<K, V> | null
    if (compare === undefined) {
      // Numeric keys: x's key rides in a local and the table's keys in a flat array.
      const keys = this.#tableKeys
      let xKey = x.key as number
      while (y !== null) {
        const yKey = keys[d] as number
        if (yKey < xKey) {
          const t = x
          x = y
          y = t
          xKey = yKey
        }
        link(y, x, d)
        table[d] = null
        if (d <= MASK_DEGREES) this.#occupied &= ~(1 << d)
        d++
        y = table[d] as Node<K, V> | null
      }
      keys[d] = xKey
    } else {
      while (y !== null) {
        if (compare(y.key, x.key) < 0) {
          const t = x
          x = y
          y = t
        }
        link(y, x, d)
        table[d] = null
        if (d <= MASK_DEGREES) this.#occupied &= ~(1 << d)
        d++
        y = table[d] as Node<K, V> | null
      }
    }
    table[d] = x
    if (d <= MASK_DEGREES) this.#occupied |= 1 << d
    x.parent = null
    x.bits = (d << DEGREE_SHIFT) | IN_TABLE
    if (d > this.#maxDegree) this.#maxDegree = d
  }

  /** Takes a root out of its degree table: ours, or one of a merged heap not folded in yet. */
  #unTable (node: Node<K, V>): void {
    const d = node.bits >> DEGREE_SHIFT
    if (this.#table[d] === node) {
      this.#table[d] = null
      if (d <= MASK_DEGREES) this.#occupied &= ~(1 << d)
    } else {
      for (const t of this.#absorbed) {
        if (t[d] === node) {
          t[d] = null
          break
        }
      }
    }
    node.bits &= ~IN_TABLE
  }

  /** Cuts `x` from `parent`, then cascades up the marked ancestors. */
  #cutAndCascade (x: Node<K, V>, parent: Node<K, V>): void {
    this.#cut(x, parent)
    let node = parent
    let p = node.parent
    while (p !== null) {
      if ((node.bits & MARK) === 0) {
        node.bits |= MARK
        return
      }
      this.#cut(node, p)
      node = p
      p = node.parent
    }
  }

  #cut (x: Node<K, V>, parent: Node<K, V>): void {
    const l = x.left
    const r = x.right
    if (l === null) parent.child = r
    else l.right = r
    if (r !== null) r.left = l
    // A table root that loses a child no longer matches its slot: it waits on the pending list.
    if ((parent.bits & IN_TABLE) !== 0) {
      this.#unTable(parent)
      this.#pushPending(parent)
    }
    parent.bits -= 1 << DEGREE_SHIFT
    x.parent = null
    x.bits &= ~MARK
    x.left = null
    this.#pushPending(x)
  }
}

/** Makes root `y` (of degree `d`) a child of root `x`. */
function link<K, V> (y: Node<K, V>, x: Node<K, V>, d: number): void {
  y.parent = x
  y.bits = d << DEGREE_SHIFT
  // y becomes the head of x's child list: touches y and the old head only.
  const head = x.child
  y.left = null
  y.right = head
  if (head !== null) head.left = y
  x.child = y
}

function checkNumericKey (key: unknown): void {
  if (typeof key !== 'number' || key !== key) throw new InvalidKeyError(key)
}
