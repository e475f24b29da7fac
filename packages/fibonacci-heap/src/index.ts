/**
 * @packageDocumentation
 *
 * A Fibonacci heap with handles: O(1) insert, peek, merge and (amortised) decreaseKey,
 * O(log n) amortised extractMin and delete. The priority queue of the p2p-mcp workflow
 * scheduler, and a priority queue worth using on its own: Dijkstra, Prim, event
 * simulation, schedulers with priority boosts. Zero runtime dependencies.
 */
export { FibonacciHeap } from './fibonacci-heap.js'
export { ForeignHandleError, InvalidKeyError, KeyIncreaseError } from './errors.js'
export type { Comparator, FibonacciHeapInit, HeapNode } from './types.js'
