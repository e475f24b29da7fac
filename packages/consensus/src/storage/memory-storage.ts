import { CompactedError, UnavailableError } from '../errors.js'
import type { ConfState, Entry, HardState, RaftStorage, Snapshot } from '../types.js'

/** Total bytes of an entry's payload, used for size caps. */
export function entrySize (e: Entry): number {
  return e.data.byteLength + 16
}

/**
 * A log store in memory: what is written is "durable" for as long as the object lives.
 * The reference for a file WAL, and the store of the simulator's disks.
 */
export class MemoryStorage implements RaftStorage {
  private hardState: HardState = { term: 0, vote: '', commit: 0 }
  private snap: Snapshot
  /** ents[0] is a dummy holding the snapshot's index and term. */
  private ents: Entry[]

  constructor (init: { voters?: string[], learners?: string[] } = {}) {
    this.snap = { meta: { index: 0, term: 0, conf: { voters: [...init.voters ?? []], learners: [...init.learners ?? []] } }, data: new Uint8Array(0) }
    this.ents = [{ index: 0, term: 0, type: 'normal', data: new Uint8Array(0) }]
  }

  initialState (): { hardState: HardState, conf: ConfState } {
    // The conf of the snapshot: conf entries after it take effect again as they are re-applied.
    return { hardState: { ...this.hardState }, conf: { voters: [...this.snap.meta.conf.voters], learners: [...this.snap.meta.conf.learners] } }
  }

  firstIndex (): number { return this.ents[0]!.index + 1 }
  lastIndex (): number { return this.ents[0]!.index + this.ents.length - 1 }

  term (i: number): number {
    const offset = this.ents[0]!.index
    if (i < offset) throw new CompactedError(i, offset + 1)
    if (i > this.lastIndex()) throw new UnavailableError(i, this.lastIndex())
    return this.ents[i - offset]!.term
  }

  entries (lo: number, hi: number, maxBytes = Infinity): Entry[] {
    const offset = this.ents[0]!.index
    if (lo <= offset) throw new CompactedError(lo, offset + 1)
    if (hi > this.lastIndex() + 1) throw new UnavailableError(hi - 1, this.lastIndex())
    const out: Entry[] = []
    let size = 0
    for (let i = lo; i < hi; i++) {
      const e = this.ents[i - offset]!
      size += entrySize(e)
      if (out.length > 0 && size > maxBytes) break
      out.push(e)
    }
    return out
  }

  snapshot (): Snapshot { return this.snap }

  /** Synchronous form of persist(), for hosts that write in place (the simulator). */
  write (batch: { entries: Entry[], hardState?: HardState | undefined, snapshot?: Snapshot | undefined }): void {
    if (batch.snapshot !== undefined) this.applySnapshot(batch.snapshot)
    if (batch.entries.length > 0) this.append(batch.entries)
    if (batch.hardState !== undefined) this.hardState = { ...batch.hardState }
  }

  async persist (batch: { entries: Entry[], hardState?: HardState | undefined, snapshot?: Snapshot | undefined }, _options: { sync: boolean }): Promise<void> {
    this.write(batch)
    await Promise.resolve()
  }

  async compact (snapshot: Snapshot): Promise<void> {
    this.compactTo(snapshot)
    await Promise.resolve()
  }

  /** Records a snapshot taken by the state machine and drops the log up to its index. */
  compactTo (snapshot: Snapshot): void {
    const offset = this.ents[0]!.index
    const i = snapshot.meta.index
    if (i <= offset) return
    if (i > this.lastIndex()) throw new UnavailableError(i, this.lastIndex())
    this.ents = this.ents.slice(i - offset)
    this.ents[0] = { index: i, term: snapshot.meta.term, type: 'normal', data: new Uint8Array(0) }
    this.snap = snapshot
  }

  async close (): Promise<void> { await Promise.resolve() }

  private applySnapshot (s: Snapshot): void {
    if (s.meta.index <= this.snap.meta.index) return
    this.snap = s
    this.ents = [{ index: s.meta.index, term: s.meta.term, type: 'normal', data: new Uint8Array(0) }]
    if (this.hardState.commit < s.meta.index) this.hardState = { ...this.hardState, commit: s.meta.index }
  }

  private append (entries: Entry[]): void {
    const first = this.firstIndex()
    const last = entries[0]!.index + entries.length - 1
    if (last < first) return
    // Drop what the snapshot already covers.
    if (entries[0]!.index < first) entries = entries.slice(first - entries[0]!.index)
    const offset = entries[0]!.index - this.ents[0]!.index
    if (offset > this.ents.length) throw new UnavailableError(entries[0]!.index, this.lastIndex())
    // Truncate in place: copying the whole log on every append was O(log length) per batch.
    this.ents.length = offset
    for (const e of entries) this.ents.push(e)
  }

  /** A deep-enough copy: the simulator's crash keeps the durable image and drops the rest. */
  clone (): MemoryStorage {
    const c = new MemoryStorage()
    c.hardState = { ...this.hardState }
    c.snap = this.snap
    c.ents = this.ents.slice()
    return c
  }
}

export function applyChange (voters: Set<string>, learners: Set<string>, type: 'addVoter' | 'addLearner' | 'removeNode', node: string): void {
  if (type === 'addVoter') {
    learners.delete(node)
    voters.add(node)
  } else if (type === 'addLearner') {
    voters.delete(node)
    learners.add(node)
  } else {
    voters.delete(node)
    learners.delete(node)
  }
}
