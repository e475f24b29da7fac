import type { ConfChange, ConfState, Entry, HardState, SnapshotMeta } from '../types.js'
import type { BinaryReader, BinaryWriter } from './binary.js'

/** Bounds every decoder applies (a peer or a damaged file never makes us allocate more). */
export interface DecodeLimits {
  /** Largest entry payload. */
  maxEntryBytes: number
  /** Most entries in one batch or message. */
  maxEntries: number
  /** Longest node id, ctx or read context. */
  maxIdBytes: number
  /** Most voters + learners. */
  maxMembers: number
}

export const DEFAULT_DECODE_LIMITS: DecodeLimits = { maxEntryBytes: 16 << 20, maxEntries: 1 << 16, maxIdBytes: 256, maxMembers: 1024 }

const CHANGE_TYPES = ['addVoter', 'addLearner', 'removeNode'] as const

export function writeEntry (w: BinaryWriter, e: Entry): void {
  // flags: bit0 conf, bit1 has ctx
  w.u8((e.type === 'conf' ? 1 : 0) | (e.ctx !== undefined ? 2 : 0))
  w.uvarint(e.index).uvarint(e.term)
  if (e.type === 'conf') {
    const c = e.change
    w.u8(c === undefined ? 0xff : CHANGE_TYPES.indexOf(c.type)).string(c?.node ?? '')
  }
  if (e.ctx !== undefined) w.string(e.ctx)
  w.bytes(e.data)
}

export function readEntry (r: BinaryReader, limits: DecodeLimits): Entry {
  const flags = r.u8()
  if (flags > 3) r.fail(`unknown entry flags ${flags}`)
  const index = r.uvarint()
  const term = r.uvarint()
  let change: ConfChange | undefined
  if ((flags & 1) !== 0) {
    const t = r.u8()
    const node = r.string(limits.maxIdBytes)
    if (t !== 0xff) {
      const type = CHANGE_TYPES[t]
      if (type === undefined) r.fail(`unknown configuration change type ${t}`)
      change = { type, node }
    }
  }
  const ctx = (flags & 2) !== 0 ? r.string(limits.maxIdBytes) : undefined
  // Copy: the entry outlives the buffer it came in.
  const data = r.bytes(limits.maxEntryBytes).slice()
  const e: Entry = { index, term, type: (flags & 1) !== 0 ? 'conf' : 'normal', data }
  if (change !== undefined) e.change = change
  if (ctx !== undefined) e.ctx = ctx
  return e
}

export function writeEntries (w: BinaryWriter, entries: Entry[]): void {
  w.uvarint(entries.length)
  for (const e of entries) writeEntry(w, e)
}

export function readEntries (r: BinaryReader, limits: DecodeLimits): Entry[] {
  const n = r.uvarint()
  if (n > limits.maxEntries) r.fail(`${n} entries exceed the limit ${limits.maxEntries}`)
  const out: Entry[] = []
  for (let i = 0; i < n; i++) out.push(readEntry(r, limits))
  return out
}

export function writeHardState (w: BinaryWriter, hs: HardState): void {
  w.uvarint(hs.term).string(hs.vote).uvarint(hs.commit)
}

export function readHardState (r: BinaryReader, limits: DecodeLimits): HardState {
  return { term: r.uvarint(), vote: r.string(limits.maxIdBytes), commit: r.uvarint() }
}

function writeIds (w: BinaryWriter, ids: string[]): void {
  w.uvarint(ids.length)
  for (const id of ids) w.string(id)
}

function readIds (r: BinaryReader, limits: DecodeLimits): string[] {
  const n = r.uvarint()
  if (n > limits.maxMembers) r.fail(`${n} members exceed the limit ${limits.maxMembers}`)
  const out: string[] = []
  for (let i = 0; i < n; i++) out.push(r.string(limits.maxIdBytes))
  return out
}

export function writeConfState (w: BinaryWriter, c: ConfState): void {
  writeIds(w, c.voters)
  writeIds(w, c.learners)
}

export function readConfState (r: BinaryReader, limits: DecodeLimits): ConfState {
  return { voters: readIds(r, limits), learners: readIds(r, limits) }
}

export function writeSnapshotMeta (w: BinaryWriter, m: SnapshotMeta): void {
  w.uvarint(m.index).uvarint(m.term)
  writeConfState(w, m.conf)
}

export function readSnapshotMeta (r: BinaryReader, limits: DecodeLimits): SnapshotMeta {
  return { index: r.uvarint(), term: r.uvarint(), conf: readConfState(r, limits) }
}
