import type { Comparator, FibonacciHeap, HeapNode } from '../src/index.js'

/** The internal shape of a node, as the implementation lays it out. */
interface Node<K, V> extends HeapNode<K, V> {
  parent: Node<K, V> | null
  child: Node<K, V> | null
  left: Node<K, V> | null
  right: Node<K, V> | null
  /** degree << 2 | IN_TABLE (2) | MARK (1) */
  bits: number
}

/**
 * Checks every structural invariant of a heap; throws on the first violation. Works from
 * the outside: every node the iterator yields must be consistent with its parent and
 * children, and the iterator must yield exactly `size` nodes.
 */
export function checkInvariants<K, V> (heap: FibonacciHeap<K, V>, compare?: Comparator<K>): void {
  const less = compare === undefined ? (a: K, b: K) => (a as number) < (b as number) : (a: K, b: K) => compare(a, b) < 0
  const min = heap.peek()
  const maxDegree = heap.size > 0 ? Math.log(heap.size) / Math.log((1 + Math.sqrt(5)) / 2) + 1 : 0
  const seen = new Set<Node<K, V>>()
  for (const handle of heap) {
    const node = handle as Node<K, V>
    if (seen.has(node)) throw new Error('node yielded twice')
    seen.add(node)
    if (!heap.has(node)) throw new Error('node not owned by its heap')
    if (min === undefined || less(node.key, min.key)) throw new Error('peek() is not the minimum')
    if (node.parent === null && (node.bits & 1) !== 0) throw new Error('a root is marked')
    if (node.parent !== null && (node.bits & 2) !== 0) throw new Error('a child is flagged as a table root')
    const nodeDegree = node.bits >> 2
    let degree = 0
    let prev: Node<K, V> | null = null
    for (let c = node.child; c !== null; c = c.right) {
      if (c.parent !== node) throw new Error('wrong parent pointer')
      if (c.left !== prev) throw new Error('broken sibling list')
      if (less(c.key, node.key)) throw new Error('heap order violated')
      degree++
      prev = c
    }
    if (degree !== nodeDegree) throw new Error(`degree ${nodeDegree} but ${degree} children`)
    // A node of degree k roots a subtree of at least F(k+2) >= phi^k nodes.
    if (nodeDegree > maxDegree) throw new Error(`degree ${nodeDegree} too large for size ${heap.size}`)
  }
  if (seen.size !== heap.size) throw new Error(`size ${heap.size} but ${seen.size} nodes`)
}
