import { CompactedError, RaftProtocolError, UnavailableError } from '../errors.js'
import { entrySize } from '../storage/memory-storage.js'
import type { Entry, LogReader, Snapshot } from '../types.js'

/**
 * The log as the core sees it: the stable part in storage plus an unstable tail (and
 * possibly an unstable snapshot) not yet handed to the host for persisting.
 */
export class RaftLog {
  readonly storage: LogReader
  /** Index of the first unstable entry. */
  offset: number
  unstable: Entry[] = []
  unstableSnapshot: Snapshot | undefined
  committed: number
  /** Highest index handed to the host for applying (applied once advanced). */
  applied: number

  constructor (storage: LogReader) {
    this.storage = storage
    this.offset = storage.lastIndex() + 1
    this.committed = storage.firstIndex() - 1
    this.applied = storage.firstIndex() - 1
  }

  firstIndex (): number {
    if (this.unstableSnapshot !== undefined) return this.unstableSnapshot.meta.index + 1
    return this.storage.firstIndex()
  }

  lastIndex (): number {
    if (this.unstable.length > 0) return this.offset + this.unstable.length - 1
    if (this.unstableSnapshot !== undefined) return this.unstableSnapshot.meta.index
    return this.storage.lastIndex()
  }

  /** Highest index known to be in storage and not superseded by the unstable tail. */
  stableIndex (): number {
    if (this.unstableSnapshot !== undefined) return 0
    return Math.min(this.offset - 1, this.storage.lastIndex())
  }

  /** Term of entry i; 0 when i is out of range (compacted or past the end). */
  term (i: number): number {
    if (i > this.lastIndex()) return 0
    if (i >= this.offset && this.unstable.length > 0) return this.unstable[i - this.offset]!.term
    if (this.unstableSnapshot !== undefined) {
      if (i === this.unstableSnapshot.meta.index) return this.unstableSnapshot.meta.term
      return 0
    }
    if (i < this.storage.firstIndex() - 1) return 0
    return this.storage.term(i)
  }

  lastTerm (): number { return this.term(this.lastIndex()) }

  matchTerm (i: number, t: number): boolean {
    if (i > this.lastIndex()) return false
    if (i < this.firstIndex() - 1) return false
    return this.term(i) === t
  }

  /** The candidate's log is at least as up to date as ours (§5.4.1). */
  isUpToDate (lastIndex: number, lastTerm: number): boolean {
    const myTerm = this.lastTerm()
    return lastTerm > myTerm || (lastTerm === myTerm && lastIndex >= this.lastIndex())
  }

  /** Entries [lo, hi) capped at maxBytes (at least one). Throws CompactedError below firstIndex. */
  slice (lo: number, hi: number, maxBytes = Infinity): Entry[] {
    if (lo >= hi) return []
    const first = this.firstIndex()
    if (lo < first) throw new CompactedError(lo, first)
    if (hi > this.lastIndex() + 1) throw new UnavailableError(hi - 1, this.lastIndex())
    let out: Entry[] = []
    if (lo < this.offset) {
      out = this.storage.entries(lo, Math.min(hi, this.offset), maxBytes)
      if (out.length < Math.min(hi, this.offset) - lo) return out
    }
    if (hi > this.offset) {
      let size = 0
      for (const e of out) size += entrySize(e)
      for (let i = Math.max(lo, this.offset); i < hi; i++) {
        const e = this.unstable[i - this.offset]!
        size += entrySize(e)
        if (out.length > 0 && size > maxBytes) break
        out.push(e)
      }
    }
    return out
  }

  /** Appends after truncating any conflicting suffix; returns the new last index. */
  append (entries: Entry[]): number {
    if (entries.length === 0) return this.lastIndex()
    const after = entries[0]!.index
    if (after <= this.committed) throw new RaftProtocolError(`append at ${after} would overwrite committed ${this.committed}`)
    if (after === this.offset + this.unstable.length) {
      for (const e of entries) this.unstable.push(e)
    } else if (after <= this.offset) {
      // Replaces part of the stable log: the host truncates storage when it persists these.
      this.offset = after
      this.unstable = entries.slice()
    } else {
      this.unstable = this.unstable.slice(0, after - this.offset)
      for (const e of entries) this.unstable.push(e)
    }
    return this.lastIndex()
  }

  /**
   * The follower side of AppendEntries: returns the last new index if prev matches,
   * undefined otherwise.
   */
  maybeAppend (index: number, logTerm: number, commit: number, entries: Entry[]): number | undefined {
    if (!this.matchTerm(index, logTerm)) return undefined
    const lastNew = index + entries.length
    const ci = this.findConflict(entries)
    if (ci !== 0) {
      if (ci <= this.committed) throw new RaftProtocolError(`entry ${ci} conflicts with committed entry (committed ${this.committed})`)
      this.append(entries.slice(ci - entries[0]!.index))
    }
    this.commitTo(Math.min(commit, lastNew))
    return lastNew
  }

  /** First index of entries whose term differs from ours, or is new; 0 if all match. */
  private findConflict (entries: Entry[]): number {
    for (const e of entries) {
      if (!this.matchTerm(e.index, e.term)) return e.index
    }
    return 0
  }

  /**
   * Fast backtracking: the largest index ≤ index whose term is ≤ term. Entries above it
   * cannot match a log whose entry at `index` has `term`.
   */
  findConflictByTerm (index: number, term: number): number {
    let i = Math.min(index, this.lastIndex())
    const floor = this.firstIndex() - 1
    while (i > floor) {
      const t = this.term(i)
      if (t <= term) return i
      i--
    }
    return i
  }

  commitTo (c: number): void {
    if (c > this.committed) {
      if (c > this.lastIndex()) throw new RaftProtocolError(`commit ${c} is past last index ${this.lastIndex()}`)
      this.committed = c
    }
  }

  /** Committed entries not yet handed out, capped. */
  nextCommitted (maxBytes = Infinity): Entry[] {
    const lo = Math.max(this.applied + 1, this.firstIndex())
    if (this.committed < lo) return []
    return this.slice(lo, this.committed + 1, maxBytes)
  }

  hasNextCommitted (): boolean {
    return this.committed > Math.max(this.applied, this.firstIndex() - 1)
  }

  appliedTo (i: number): void {
    if (i > this.applied) this.applied = i
  }

  /** The host persisted entries up to (index, term): drop them from the unstable tail. */
  stableTo (index: number, term: number): void {
    if (this.unstable.length === 0 || index < this.offset) return
    const t = this.term(index)
    // Stale acknowledgement: the entry was replaced since the Ready was taken.
    if (t !== term || index > this.lastIndex()) return
    this.unstable = this.unstable.slice(index + 1 - this.offset)
    this.offset = index + 1
  }

  stableSnapTo (index: number): void {
    if (this.unstableSnapshot !== undefined && this.unstableSnapshot.meta.index === index) this.unstableSnapshot = undefined
  }

  restore (s: Snapshot): void {
    this.committed = s.meta.index
    this.unstableSnapshot = s
    this.offset = s.meta.index + 1
    this.unstable = []
  }
}
