/** In-flight append messages to one follower: a FIFO of (last index, bytes). */
export class Inflights {
  private readonly idx: number[] = []
  private readonly sizes: number[] = []
  private head = 0
  bytes = 0
  readonly maxMsgs: number
  readonly maxBytes: number

  constructor (maxMsgs: number, maxBytes: number) {
    this.maxMsgs = maxMsgs
    this.maxBytes = maxBytes
  }

  get count (): number { return this.idx.length - this.head }

  full (): boolean {
    return this.count >= this.maxMsgs || (this.maxBytes > 0 && this.bytes >= this.maxBytes)
  }

  add (index: number, bytes: number): void {
    this.idx.push(index)
    this.sizes.push(bytes)
    this.bytes += bytes
  }

  /** Frees every message whose last index is ≤ to. */
  freeLE (to: number): void {
    while (this.head < this.idx.length && this.idx[this.head]! <= to) {
      this.bytes -= this.sizes[this.head]!
      this.head++
    }
    if (this.head > 64 && this.head * 2 > this.idx.length) {
      this.idx.splice(0, this.head)
      this.sizes.splice(0, this.head)
      this.head = 0
    }
  }

  /** Frees the oldest message, whatever its index. */
  freeFirst (): void {
    if (this.count > 0) this.freeLE(this.idx[this.head]!)
  }

  reset (): void {
    this.idx.length = 0
    this.sizes.length = 0
    this.head = 0
    this.bytes = 0
  }
}

export type ProgressState = 'probe' | 'replicate' | 'snapshot'

/** The leader's view of one follower (thesis §3.5, with etcd's probe/replicate flow control). */
export class Progress {
  match = 0
  next: number
  state: ProgressState = 'probe'
  /** Probe state: one append is outstanding; wait for its answer or a heartbeat response. */
  probeSent = false
  pendingSnapshot = 0
  /** Ticks spent in snapshot state, to fall back to probing if the snapshot was lost. */
  snapshotTicks = 0
  recentActive = false
  isLearner: boolean
  readonly inflights: Inflights

  constructor (next: number, isLearner: boolean, maxMsgs: number, maxBytes: number) {
    this.next = next
    this.isLearner = isLearner
    this.inflights = new Inflights(maxMsgs, maxBytes)
  }

  becomeProbe (): void {
    if (this.state === 'snapshot') {
      const pending = this.pendingSnapshot
      this.next = Math.max(this.match + 1, pending + 1)
    } else {
      this.next = this.match + 1
    }
    this.state = 'probe'
    this.probeSent = false
    this.pendingSnapshot = 0
    this.inflights.reset()
  }

  becomeReplicate (): void {
    this.state = 'replicate'
    this.next = this.match + 1
    this.probeSent = false
    this.pendingSnapshot = 0
    this.inflights.reset()
  }

  becomeSnapshot (index: number): void {
    this.state = 'snapshot'
    this.pendingSnapshot = index
    this.snapshotTicks = 0
    this.probeSent = false
    this.inflights.reset()
  }

  /** An accepted append up to n; returns whether match moved. */
  maybeUpdate (n: number): boolean {
    let updated = false
    if (this.match < n) {
      this.match = n
      updated = true
      this.probeSent = false
    }
    this.next = Math.max(this.next, n + 1)
    return updated
  }

  /**
   * A rejected append of prev index `rejected`; `hint` is the follower's suggestion.
   * Returns false if the rejection is stale.
   */
  maybeDecrTo (rejected: number, hint: number): boolean {
    if (this.state === 'replicate') {
      if (rejected <= this.match) return false
      this.next = this.match + 1
      return true
    }
    if (this.next - 1 !== rejected) return false
    this.next = Math.max(Math.min(rejected, hint + 1), this.match + 1)
    this.probeSent = false
    return true
  }

  isPaused (): boolean {
    if (this.state === 'probe') return this.probeSent
    if (this.state === 'replicate') return this.inflights.full()
    return true
  }
}
