import type { Comparator, FibonacciHeap, HeapNode } from '../src/index.js'

/** The internal shape of a node, as the implementation lays it out. */
interface Node<K, V> extends HeapNode<K, V> {
  parent: Node<K, V> | null
  child: Node<K, V> | null
  left: Node<K, V>
  right: Node<K, V>
  degree: number
  mark: boolean
}

/** Checks every structural invariant of a heap; throws on the first violation. */
export function checkInvariants<K, V> (heap: FibonacciHeap<K, V>, compare?: Comparator<K>): void {
  const less = compare === undefined ? (a: K, b: K) => (a as number) < (b as number) : (a: K, b: K) => compare(a, b) < 0
  const min = heap.peek() as Node<K, V> | undefined
  let count = 0
  const walk = (start: Node<K, V>, parent: Node<K, V> | null): number => {
    let n = 0
    let node = start
    do {
      if (node.left.right !== node || node.right.left !== node) throw new Error('broken sibling ring')
      if (node.parent !== parent) throw new Error('wrong parent pointer')
      if (parent !== null && less(node.key, parent.key)) throw new Error('heap order violated')
      if (min !== undefined && less(node.key, min.key)) throw new Error('min is not the minimum')
      if (!heap.has(node)) throw new Error('node not owned by its heap')
      let degree = 0
      if (node.child !== null) degree = walk(node.child, node)
      if (degree !== node.degree) throw new Error(`degree ${node.degree} but ${degree} children`)
      // A node of degree k roots a subtree of at least F(k+2) >= phi^k nodes.
      if (node.degree > Math.log(heap.size) / Math.log((1 + Math.sqrt(5)) / 2) + 1) throw new Error(`degree ${node.degree} too large for size ${heap.size}`)
      count++
      n++
      node = node.right
    } while (node !== start)
    return n
  }
  if (min !== undefined) walk(min, null)
  if (count !== heap.size) throw new Error(`size ${heap.size} but ${count} nodes`)
}
