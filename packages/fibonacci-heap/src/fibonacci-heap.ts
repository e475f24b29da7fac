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
 */
class Node<K, V> implements HeapNode<K, V> {
  key: K
  value: V
  parent: Node<K, V> | null = null
  child: Node<K, V> | null = null
  left: Node<K, V>
  right: Node<K, V>
  degree = 0
  mark = false
  owner: Owner | null

  constructor (key: K, value: V, owner: Owner) {
    this.key = key
    this.value = value
    this.left = this
    this.right = this
    this.owner = owner
  }
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
 */
export class FibonacciHeap<K = number, V = unknown> implements Iterable<HeapNode<K, V>> {
  readonly #compare: Comparator<K> | undefined
  #min: Node<K, V> | null = null
  #size = 0
  #owner: Owner
  /** Degree table reused by every consolidation; only slots up to the largest degree seen are touched. */
  readonly #table: Array<Node<K, V> | null> = new Array<Node<K, V> | null>(MAX_DEGREE).fill(null)

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
    if (this.#compare === undefined) checkNumericKey(key)
    const node = new Node<K, V>(key, value, this.#owner)
    const min = this.#min
    if (min === null) {
      this.#min = node
    } else {
      spliceIntoRing(min, node)
      if (this.#less(key, min.key)) this.#min = node
    }
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
    this.#removeMin(z)
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
    if (this.#compare === undefined) {
      checkNumericKey(key)
      if ((key as number) > (node.key as number)) throw new KeyIncreaseError(node.key, key)
    } else if (this.#compare(key, node.key) > 0) {
      throw new KeyIncreaseError(node.key, key)
    }
    node.key = key
    const parent = node.parent
    if (parent !== null && this.#less(key, parent.key)) {
      this.#cut(node, parent)
      this.#cascadingCut(parent)
    }
    if (this.#less(key, (this.#min as Node<K, V>).key)) this.#min = node
  }

  /**
   * Removes `node` from the heap. O(log n) amortised. The node's key is not changed.
   *
   * @throws {ForeignHandleError} (a RangeError) when `node` is not in this heap
   */
  delete (handle: HeapNode<K, V>): void {
    const node = this.#own(handle, 'delete')
    const parent = node.parent
    if (parent !== null) {
      this.#cut(node, parent)
      this.#cascadingCut(parent)
    }
    // A root can be removed exactly like the minimum: consolidation finds the real minimum.
    this.#removeMin(node)
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
    if (otherMin !== null) {
      const min = this.#min
      if (min === null) {
        this.#min = otherMin
      } else {
        // Splice the two root rings together.
        const minRight = min.right
        const otherLeft = otherMin.left
        min.right = otherMin
        otherMin.left = min
        otherLeft.right = minRight
        minRight.left = otherLeft
        if (this.#less(otherMin.key, min.key)) this.#min = otherMin
      }
      this.#size += other.#size
      other.#owner.parent = this.#owner
      other.#owner.heap = null
      other.#owner = new Owner(other)
      other.#min = null
      other.#size = 0
    }
    return this
  }

  /** Removes every node. Handles held elsewhere no longer belong to the heap. */
  clear (): void {
    this.#owner.heap = null
    this.#owner = new Owner(this)
    this.#min = null
    this.#size = 0
  }

  /** Iterates every handle without changing the heap, in no particular order. */
  * [Symbol.iterator] (): IterableIterator<HeapNode<K, V>> {
    const first = this.#min
    if (first === null) return
    const stack: Array<Node<K, V>> = [first]
    while (stack.length > 0) {
      const start = stack.pop() as Node<K, V>
      let node = start
      do {
        yield node
        if (node.child !== null) stack.push(node.child)
        node = node.right
      } while (node !== start)
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

  #own (handle: HeapNode<K, V>, op: string): Node<K, V> {
    if (handle instanceof Node) {
      const owner = (handle as Node<K, V>).owner
      if (owner !== null && (owner.parent === null ? owner.heap : ownerOf(owner)) === this) return handle as Node<K, V>
    }
    throw new ForeignHandleError(op, handle)
  }

  /** Removes root `z` (the minimum, or a root being deleted) and consolidates. */
  #removeMin (z: Node<K, V>): void {
    // Children become roots: they keep their ring, which is spliced into the root ring.
    const child = z.child
    if (child !== null) {
      let c = child
      do {
        c.parent = null
        c = c.right
      } while (c !== child)
      spliceRings(z, child)
    }
    const next = z.right
    // Detach z.
    z.left.right = next
    next.left = z.left
    z.left = z
    z.right = z
    z.child = null
    z.parent = null
    z.degree = 0
    z.mark = false
    z.owner = null
    this.#size--
    if (next === z) {
      this.#min = null
    } else {
      this.#consolidate(next)
    }
  }

  #consolidate (start: Node<K, V>): void {
    const table = this.#table
    const compare = this.#compare
    let maxDegree = -1
    // Break the ring so the walk needs no count; the roots are re-linked from the table.
    start.left.right = null as unknown as Node<K, V>
    let w: Node<K, V> | null = start
    while (w !== null) {
      let x: Node<K, V> = w
      w = w.right
      let d = x.degree
      let y = table[d] as Node<K, V> | null
      while (y !== null) {
        if (compare === undefined ? (y.key as number) < (x.key as number) : compare(y.key, x.key) < 0) {
          const t = x
          x = y
          y = t
        }
        // Link y under x.
        y.parent = x
        y.mark = false
        const c = x.child
        if (c === null) {
          y.left = y
          y.right = y
          x.child = y
        } else {
          const cr = c.right
          y.left = c
          y.right = cr
          cr.left = y
          c.right = y
        }
        x.degree = d + 1
        table[d] = null
        d++
        y = table[d] as Node<K, V> | null
      }
      table[d] = x
      if (d > maxDegree) maxDegree = d
    }
    // Rebuild the root ring from the table and find the minimum.
    let min: Node<K, V> | null = null
    let last: Node<K, V> | null = null
    let first: Node<K, V> | null = null
    for (let i = 0; i <= maxDegree; i++) {
      const r = table[i] as Node<K, V> | null
      if (r === null) continue
      table[i] = null
      if (last === null) {
        first = r
      } else {
        last.right = r
        r.left = last
      }
      last = r
      if (min === null || (compare === undefined ? (r.key as number) < (min.key as number) : compare(r.key, min.key) < 0)) min = r
    }
    // maxDegree >= 0 because at least one root was walked.
    ;(last as Node<K, V>).right = first as Node<K, V>
    ;(first as Node<K, V>).left = last as Node<K, V>
    this.#min = min
  }

  #cut (x: Node<K, V>, parent: Node<K, V>): void {
    if (x.right === x) {
      parent.child = null
    } else {
      x.left.right = x.right
      x.right.left = x.left
      if (parent.child === x) parent.child = x.right
    }
    parent.degree--
    x.parent = null
    x.mark = false
    x.left = x
    x.right = x
    spliceIntoRing(this.#min as Node<K, V>, x)
  }

  #cascadingCut (y: Node<K, V>): void {
    let node = y
    let parent = node.parent
    while (parent !== null) {
      if (!node.mark) {
        node.mark = true
        return
      }
      this.#cut(node, parent)
      node = parent
      parent = node.parent
    }
  }
}

function checkNumericKey (key: unknown): void {
  if (typeof key !== 'number' || key !== key) throw new InvalidKeyError(key)
}

/** Inserts single node `x` to the right of `anchor`. */
function spliceIntoRing<K, V> (anchor: Node<K, V>, x: Node<K, V>): void {
  const r = anchor.right
  x.left = anchor
  x.right = r
  r.left = x
  anchor.right = x
}

/** Splices ring `b` into ring `a`, right after `a`. */
function spliceRings<K, V> (a: Node<K, V>, b: Node<K, V>): void {
  const aRight = a.right
  const bLeft = b.left
  a.right = b
  b.left = a
  bLeft.right = aRight
  aRight.left = bLeft
}
