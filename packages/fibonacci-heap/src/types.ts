/** Orders two keys: negative when `a` comes first, positive when `b` does, 0 when equal. */
export type Comparator<K> = (a: K, b: K) => number

/** A node's handle: what `insert` returns and `decreaseKey` / `delete` / `has` take. */
export interface HeapNode<K, V> {
  /** The node's current key. */
  readonly key: K
  /** The value stored with the key. */
  readonly value: V
}

export interface FibonacciHeapInit<K> {
  /**
   * Orders keys. Without it keys must be numbers (NaN is refused) and are compared with
   * `<` inline: the fast path.
   *
   * @default undefined (numeric ascending)
   */
  compare?: Comparator<K>
}
