import { FibonacciHeap } from '@p2p-mcp/fibonacci-heap'
import type { HeapNode } from '@p2p-mcp/fibonacci-heap'
import { DEFAULT_BOOST_INTERVAL_MS, DEFAULT_PRIORITY_BOOST_FACTOR } from './constants.js'
import { InvalidOptionError } from './errors.js'

type Key = readonly [effective: number, seq: number]
const compare = (a: Key, b: Key): number => a[0] - b[0] || a[1] - b[1]

interface Entry<T> { item: T, priority: number, enqueuedAtMs: number, boosts: number }

/** A handle to a queued item, for `delete`. */
export type QueueHandle<T> = HeapNode<Key, Entry<T>>

export interface BoostedQueueInit {
  /** Each boost multiplies a waiting item's key by this (the seed's `priority_boost_factor`). @default 0.9 */
  priorityBoostFactor?: number
  /** An item is boosted once per this much waiting. @default 1000 */
  boostIntervalMs?: number
}

/**
 * A priority queue with starvation boost: lower priority values come first (ties in arrival
 * order), and an item that waited k boost intervals has key (priority + 1) · factor^k, lowered
 * in place with the Fibonacci heap's O(1) decreaseKey. An item of priority p therefore comes out
 * before every item of priority q that arrived more than K = ⌈ln((p + 1)/(q + 1)) / ln(1/factor)⌉ + 1
 * intervals after it (see `starvationBoundIntervals`), however many of those arrive.
 */
export class BoostedQueue<T> {
  readonly factor: number
  readonly intervalMs: number
  private readonly heap = new FibonacciHeap<Key, Entry<T>>({ compare })
  private seq = 0

  constructor (init: BoostedQueueInit = {}) {
    this.factor = init.priorityBoostFactor ?? DEFAULT_PRIORITY_BOOST_FACTOR
    this.intervalMs = init.boostIntervalMs ?? DEFAULT_BOOST_INTERVAL_MS
    if (!(this.factor > 0 && this.factor < 1)) throw new InvalidOptionError('priorityBoostFactor', init.priorityBoostFactor, 'a number in (0, 1)')
    if (!(this.intervalMs > 0) || !Number.isFinite(this.intervalMs)) throw new InvalidOptionError('boostIntervalMs', init.boostIntervalMs, 'a positive number of ms')
  }

  get size (): number { return this.heap.size }

  insert (item: T, priority: number, nowMs: number): QueueHandle<T> {
    return this.heap.insert([priority + 1, this.seq++], { item, priority, enqueuedAtMs: nowMs, boosts: 0 })
  }

  has (handle: QueueHandle<T>): boolean { return this.heap.has(handle) }

  delete (handle: QueueHandle<T>): boolean {
    if (!this.heap.has(handle)) return false
    this.heap.delete(handle)
    return true
  }

  peek (): T | undefined { return this.heap.peek()?.value.item }

  pop (): T | undefined { return this.heap.extractMin()?.value.item }

  /** Lowers the key of every item that waited another interval since its last boost. */
  boost (nowMs: number): void {
    for (const node of this.heap) {
      const e = node.value
      const k = Math.floor((nowMs - e.enqueuedAtMs) / this.intervalMs)
      if (k > e.boosts) {
        e.boosts = k
        this.heap.decreaseKey(node, [(e.priority + 1) * this.factor ** k, node.key[1]])
      }
    }
  }

  /** Items in no particular order. */
  * items (): IterableIterator<T> { for (const node of this.heap) yield node.value.item }
}

/**
 * The starvation bound of a BoostedQueue: an item of priority `low` comes out before any item
 * of priority `high` that arrived this many boost intervals (or more) after it.
 */
export function starvationBoundIntervals (low: number, high: number, factor = DEFAULT_PRIORITY_BOOST_FACTOR): number {
  if (low <= high) return 1
  return Math.ceil(Math.log((low + 1) / (high + 1)) / Math.log(1 / factor)) + 1
}
