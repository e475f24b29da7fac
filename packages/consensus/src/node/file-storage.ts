import { fdatasyncSync, writeSync } from 'node:fs'
import { mkdir, open, readdir, readFile, rename, rm, unlink, writeFile } from 'node:fs/promises'
import type { FileHandle } from 'node:fs/promises'
import { join } from 'node:path'
import { BinaryReader, BinaryWriter } from '../codec/binary.js'
import { DEFAULT_DECODE_LIMITS, readEntries, readHardState, readSnapshotMeta, writeEntries, writeHardState, writeSnapshotMeta } from '../codec/entry-codec.js'
import { CorruptLogError, DataDirLockedError, DecodeError, DiskFullError, InvalidParametersError } from '../errors.js'
import { MemoryStorage } from '../storage/memory-storage.js'
import type { ConfState, Entry, HardState, Logger, RaftStorage, Snapshot } from '../types.js'
import { crc32c } from './crc32c.js'

export interface FileStorageInit {
  /** The data directory (created if missing); one node per directory, guarded by a lock file. */
  dir: string
  /**
   * Voters of a new cluster (ignored once the directory holds state).
   * @default []
   */
  voters?: string[]
  /**
   * Learners of a new cluster (ignored once the directory holds state).
   * @default []
   */
  learners?: string[]
  /**
   * A segment is closed and a new one started once it grows past this many bytes.
   * @default 67108864
   */
  segmentBytes?: number
  /**
   * Largest WAL record (one persisted batch) or snapshot accepted when reading.
   * @default 268435456
   */
  maxRecordBytes?: number
  /**
   * fsync (fdatasync) when a batch asks for durability. Turn off only for tests that do not
   * care about power loss.
   * @default true
   */
  fsync?: boolean
  /**
   * Append and fdatasync WAL records with synchronous calls on the calling thread (as etcd's
   * raft goroutine does) instead of two trips through libuv's thread pool. Lower latency per
   * write; the event loop waits for the disk meanwhile. Snapshots and segment creation are
   * always asynchronous.
   * @default true
   */
  blockingWrites?: boolean
  /** Optional logger; silent by default. */
  logger?: Logger
}

/** Counters for tests and benchmarks. */
export interface FileStorageStats {
  /** fdatasync/fsync calls on WAL segments, snapshots and directories. */
  fsyncs: number
  /** WAL records written (one per persisted batch). */
  records: number
  /** Bytes appended to the WAL. */
  bytes: number
  /** Segments created. */
  segments: number
  /** Bytes cut from a torn tail when the directory was opened. */
  tornBytesTruncated: number
}

export const DEFAULT_SEGMENT_BYTES = 64 << 20
export const DEFAULT_MAX_RECORD_BYTES = 256 << 20

/** Format version of segment headers, records and snapshot files. */
export const WAL_VERSION = 1
const SEGMENT_MAGIC = 0x57503250 // "P2PW" little-endian
const SNAPSHOT_MAGIC = 0x53503250 // "P2PS"
const SEGMENT_HEADER_BYTES = 32
const RECORD_HEADER_BYTES = 16
const KIND_BATCH = 1
const FLAG_RESET = 1

interface Segment {
  seq: number
  path: string
  /** Highest entry index written to it (0 if none). */
  maxIndex: number
}

interface Batch { entries: Entry[], hardState?: HardState | undefined, snapshot?: Snapshot | undefined }

const NOOP_LOGGER: Logger = { debug () {}, info () {}, warn () {}, error () {} }

/**
 * A durable RaftStorage on files (Node only): a segmented write-ahead log with one record per
 * persisted batch (entries, hard state), each with a checksummed header and a CRC-32C of its
 * payload, one fdatasync per batch that asks for durability; snapshots written to a temporary
 * file, fsynced, renamed and the directory fsynced; compaction that drops segments a snapshot
 * covers; a lock file so two processes cannot open one directory.
 *
 * On open a torn tail (the last segment ends inside a record, or in zeros) is truncated; a
 * complete record whose checksum fails, a broken segment header or a hole in the log is
 * corruption: `CorruptLogError` names the file and offset and the node does not start.
 *
 * Layout: `<dir>/LOCK`, `<dir>/wal/<seq:016x>.wal`, `<dir>/snap/<index:016x>-<term:016x>.snap`.
 * The formats are in docs/protocols.md.
 */
export class FileStorage implements RaftStorage {
  readonly dir: string
  readonly stats: FileStorageStats = { fsyncs: 0, records: 0, bytes: 0, segments: 0, tornBytesTruncated: 0 }
  private readonly mem: MemoryStorage
  private readonly segmentBytes: number
  private readonly fsync: boolean
  private readonly log: Logger
  private segments: Segment[] = []
  private fh: FileHandle | undefined
  private size = 0
  private chain: Promise<void> = Promise.resolve()
  private closed = false
  private readonly blocking: boolean
  /** A commit-only hard state not yet written (see persist). */
  private deferredHardState: HardState | undefined

  private constructor (dir: string, mem: MemoryStorage, init: FileStorageInit) {
    this.dir = dir
    this.mem = mem
    this.segmentBytes = init.segmentBytes ?? DEFAULT_SEGMENT_BYTES
    this.fsync = init.fsync ?? true
    this.blocking = init.blockingWrites ?? true
    this.log = init.logger ?? NOOP_LOGGER
  }

  /** Opens (or creates) a data directory: takes its lock, loads the newest snapshot and replays the WAL. */
  static async open (init: FileStorageInit): Promise<FileStorage> {
    const segmentBytes = init.segmentBytes ?? DEFAULT_SEGMENT_BYTES
    if (!Number.isInteger(segmentBytes) || segmentBytes < 4096) throw new InvalidParametersError('segmentBytes', segmentBytes, 'an integer ≥ 4096')
    const maxRecordBytes = init.maxRecordBytes ?? DEFAULT_MAX_RECORD_BYTES
    if (!Number.isInteger(maxRecordBytes) || maxRecordBytes < 1024) throw new InvalidParametersError('maxRecordBytes', maxRecordBytes, 'an integer ≥ 1024')
    const dir = init.dir
    await mkdir(join(dir, 'wal'), { recursive: true })
    await mkdir(join(dir, 'snap'), { recursive: true })
    await lockDir(dir)
    try {
      const recovered = await recover(dir, maxRecordBytes, init.fsync ?? true)
      // A new directory records its bootstrap configuration as a snapshot at index 0.
      const boot = recovered.snapshot?.meta.conf ?? { voters: init.voters ?? [], learners: init.learners ?? [] }
      const mem = new MemoryStorage(boot)
      const s = new FileStorage(dir, mem, init)
      s.stats.tornBytesTruncated = recovered.tornBytes
      if (recovered.snapshot === undefined) await s.writeSnapshot(mem.snapshot())
      else if (recovered.snapshot.meta.index > 0) mem.write({ entries: [], snapshot: recovered.snapshot })
      if (recovered.entries.length > 0) mem.write({ entries: recovered.entries })
      if (recovered.hardState !== undefined) {
        const hs = recovered.hardState
        mem.write({ entries: [], hardState: { ...hs, commit: Math.min(hs.commit, mem.lastIndex()) } })
      }
      s.segments = recovered.segments
      const last = s.segments.at(-1)
      if (last !== undefined && recovered.lastSize < segmentBytes) {
        s.fh = await open(last.path, 'r+')
        s.size = recovered.lastSize
      } else {
        await s.newSegment(undefined)
      }
      s.log.info('opened %s: snapshot %d, entries %d..%d, %d segments', dir, mem.snapshot().meta.index, mem.firstIndex(), mem.lastIndex(), s.segments.length)
      return s
    } catch (err) {
      await unlink(join(dir, 'LOCK')).catch(() => {})
      throw err
    }
  }

  initialState (): { hardState: HardState, conf: ConfState } { return this.mem.initialState() }
  firstIndex (): number { return this.mem.firstIndex() }
  lastIndex (): number { return this.mem.lastIndex() }
  term (i: number): number { return this.mem.term(i) }
  entries (lo: number, hi: number, maxBytes?: number): Entry[] { return this.mem.entries(lo, hi, maxBytes) }
  snapshot (): Snapshot { return this.mem.snapshot() }

  /**
   * Writes one batch as one record, then one fdatasync when `sync`; calls are applied in
   * order. A snapshot in the batch is written first (its own file, fsynced) and starts a new
   * segment that supersedes the older ones. Rejects with DiskFullError on ENOSPC, having cut
   * the partial record off again, so the same batch can be retried.
   */
  async persist (batch: Batch, options: { sync: boolean }): Promise<void> {
    await this.serial(async () => {
      if (batch.snapshot !== undefined) {
        await this.writeSnapshot(batch.snapshot)
        await this.newSegment(batch.snapshot)
        await this.dropSegmentsBefore(this.segments.length - 1)
        this.mem.write({ entries: [], snapshot: batch.snapshot })
      }
      if (batch.entries.length === 0 && batch.snapshot === undefined && !options.sync && batch.hardState !== undefined) {
        // Only the commit index moved (term and vote changes always ask for a sync): it need
        // not be durable (Raft recovers it), so it rides along with the next record.
        this.deferredHardState = batch.hardState
        this.mem.write({ entries: [], hardState: batch.hardState })
        return
      }
      if (batch.entries.length > 0 || batch.hardState !== undefined) {
        const hardState = batch.hardState ?? this.deferredHardState
        await this.append(encodeBatch({ entries: batch.entries, hardState }), options.sync)
        this.deferredHardState = undefined
        const seg = this.segments.at(-1)!
        const last = batch.entries.at(-1)
        if (last !== undefined) seg.maxIndex = Math.max(seg.maxIndex, last.index)
        this.mem.write({ entries: batch.entries, hardState: batch.hardState })
      }
      if (this.size >= this.segmentBytes) await this.newSegment(undefined)
    })
  }

  /** Stores a snapshot the state machine took, then drops the segments and older snapshots it covers. */
  async compact (snapshot: Snapshot): Promise<void> {
    await this.serial(async () => {
      if (snapshot.meta.index <= this.mem.snapshot().meta.index) return
      await this.writeSnapshot(snapshot)
      this.mem.compactTo(snapshot)
      let n = 0
      while (n < this.segments.length - 1 && this.segments[n]!.maxIndex <= snapshot.meta.index) n++
      await this.dropSegmentsBefore(n)
    })
  }

  async close (): Promise<void> {
    if (this.closed) return
    const hs = this.deferredHardState
    if (hs !== undefined) await this.persist({ entries: [], hardState: hs }, { sync: true }).catch(() => {})
    this.closed = true
    await this.chain.catch(() => {})
    await this.fh?.close()
    this.fh = undefined
    await unlink(join(this.dir, 'LOCK')).catch(() => {})
  }

  private async serial (f: () => Promise<void>): Promise<void> {
    if (this.closed) throw new Error(`storage ${this.dir} is closed`)
    const run = this.chain.then(f)
    this.chain = run.catch(() => {})
    await run
  }

  private async syncFile (fh: FileHandle): Promise<void> {
    if (!this.fsync) return
    await fh.datasync()
    this.stats.fsyncs++
  }

  private async syncDir (path: string): Promise<void> {
    if (!this.fsync) return
    const d = await open(path, 'r')
    try {
      await d.sync()
      this.stats.fsyncs++
    } finally {
      await d.close()
    }
  }

  private async append (record: Uint8Array, sync: boolean): Promise<void> {
    const fh = this.fh!
    const before = this.size
    try {
      if (this.blocking) {
        let off = 0
        while (off < record.byteLength) off += writeSync(fh.fd, record, off, record.byteLength - off, before + off)
        if (sync && this.fsync) {
          fdatasyncSync(fh.fd)
          this.stats.fsyncs++
        }
      } else {
        await writeAll(fh, record, before)
        if (sync) await this.syncFile(fh)
      }
      this.size += record.byteLength
    } catch (err) {
      this.size = before
      // Cut the partial record off so that a retry appends at a clean boundary.
      await fh.truncate(before).catch(() => {})
      if ((err as NodeJS.ErrnoException).code === 'ENOSPC') throw new DiskFullError(this.dir, { cause: err })
      throw err
    }
    this.stats.records++
    this.stats.bytes += record.byteLength
  }

  /**
   * Starts a new segment (a reset segment when `base` is an installed snapshot) and makes it
   * durable. It opens with the current hard state, so that dropping older segments never
   * loses the term and vote.
   */
  private async newSegment (base: Snapshot | undefined): Promise<void> {
    const seq = (this.segments.at(-1)?.seq ?? 0) + 1
    const path = join(this.dir, 'wal', `${seq.toString(16).padStart(16, '0')}.wal`)
    const head = encodeSegmentHeader(seq, base)
    const hs = encodeBatch({ entries: [], hardState: this.mem.initialState().hardState })
    const header = new Uint8Array(head.byteLength + hs.byteLength)
    header.set(head)
    header.set(hs, head.byteLength)
    const fh = await this.createSynced(path, 'wx', header)
    await this.syncDir(join(this.dir, 'wal'))
    await this.fh?.close()
    this.fh = fh
    this.size = header.byteLength
    this.segments.push({ seq, path, maxIndex: 0 })
    this.stats.segments++
  }

  /** Creates a file holding `bytes`, synced; on failure removes it again (ENOSPC → DiskFullError). */
  private async createSynced (path: string, flags: string, bytes: Uint8Array): Promise<FileHandle> {
    const fh = await open(path, flags)
    try {
      await writeAll(fh, bytes, 0)
      await this.syncFile(fh)
      return fh
    } catch (err) {
      await fh.close()
      await unlink(path).catch(() => {})
      if ((err as NodeJS.ErrnoException).code === 'ENOSPC') throw new DiskFullError(this.dir, { cause: err })
      throw err
    }
  }

  private async dropSegmentsBefore (n: number): Promise<void> {
    if (n <= 0) return
    const gone = this.segments.splice(0, n)
    for (const s of gone) await rm(s.path, { force: true })
    await this.syncDir(join(this.dir, 'wal'))
  }

  /** tmp file, fsync, rename, directory fsync; then drops all but the two newest snapshots. */
  private async writeSnapshot (s: Snapshot): Promise<void> {
    const snapDir = join(this.dir, 'snap')
    const name = snapshotName(s.meta.index, s.meta.term)
    const tmp = join(snapDir, `${name}.tmp`)
    const bytes = encodeSnapshot(s)
    await (await this.createSynced(tmp, 'w', bytes)).close()
    await rename(tmp, join(snapDir, name))
    await this.syncDir(snapDir)
    const names = (await readdir(snapDir)).filter(f => f.endsWith('.snap')).sort()
    for (const old of names.slice(0, -2)) await rm(join(snapDir, old), { force: true })
  }
}

async function writeAll (fh: FileHandle, buf: Uint8Array, position: number): Promise<void> {
  let off = 0
  while (off < buf.byteLength) {
    const { bytesWritten } = await fh.write(buf, off, buf.byteLength - off, position + off)
    off += bytesWritten
  }
}

function snapshotName (index: number, term: number): string {
  return `${index.toString(16).padStart(16, '0')}-${term.toString(16).padStart(16, '0')}.snap`
}

// ---------------------------------------------------------------- formats

/** One WAL record: header (version, kind, length, header CRC, payload CRC) + payload. */
export function encodeBatch (batch: { entries: Entry[], hardState?: HardState | undefined }): Uint8Array {
  const w = new BinaryWriter(64 + batch.entries.reduce((n, e) => n + e.data.byteLength + 24, 0))
  w.u32(0).u32(0).u32(0).u32(0)
  w.u8(batch.hardState !== undefined ? 1 : 0)
  if (batch.hardState !== undefined) writeHardState(w, batch.hardState)
  writeEntries(w, batch.entries)
  const buf = w.finish()
  sealRecord(buf, KIND_BATCH)
  return buf
}

function sealRecord (buf: Uint8Array, kind: number): void {
  const v = new DataView(buf.buffer, buf.byteOffset, buf.byteLength)
  const len = buf.byteLength - RECORD_HEADER_BYTES
  v.setUint8(0, WAL_VERSION)
  v.setUint8(1, kind)
  v.setUint16(2, 0, true)
  v.setUint32(4, len, true)
  v.setUint32(12, crc32c(buf, RECORD_HEADER_BYTES), true)
  v.setUint32(8, crc32c(buf, 0, 8), true)
}

function encodeSegmentHeader (seq: number, base: Snapshot | undefined): Uint8Array {
  const buf = new Uint8Array(SEGMENT_HEADER_BYTES)
  const v = new DataView(buf.buffer)
  v.setUint32(0, SEGMENT_MAGIC, true)
  v.setUint8(4, WAL_VERSION)
  v.setUint8(5, base !== undefined ? FLAG_RESET : 0)
  v.setFloat64(8, seq, true)
  v.setFloat64(16, base?.meta.index ?? 0, true)
  v.setUint32(24, base?.meta.term ?? 0, true)
  v.setUint32(28, crc32c(buf, 0, 28), true)
  return buf
}

export function encodeSnapshot (s: Snapshot): Uint8Array {
  const w = new BinaryWriter(64 + s.data.byteLength)
  w.u32(SNAPSHOT_MAGIC).u8(WAL_VERSION).u32(0)
  writeSnapshotMeta(w, s.meta)
  w.bytes(s.data)
  const buf = w.finish()
  new DataView(buf.buffer).setUint32(5, crc32c(buf, 9), true)
  return buf
}

export function decodeSnapshot (buf: Uint8Array, file: string, maxBytes: number): Snapshot {
  if (buf.byteLength < 9) throw new CorruptLogError(file, 0, `snapshot file of ${buf.byteLength} bytes is shorter than its header`)
  const v = new DataView(buf.buffer, buf.byteOffset, buf.byteLength)
  if (v.getUint32(0, true) !== SNAPSHOT_MAGIC) throw new CorruptLogError(file, 0, 'not a snapshot file (bad magic)')
  if (v.getUint8(4) !== WAL_VERSION) throw new CorruptLogError(file, 4, `unsupported snapshot version ${v.getUint8(4)} (this build reads ${WAL_VERSION})`)
  if (v.getUint32(5, true) !== crc32c(buf, 9)) throw new CorruptLogError(file, 9, 'snapshot checksum mismatch')
  const r = new BinaryReader(buf, file, 9)
  try {
    const meta = readSnapshotMeta(r, DEFAULT_DECODE_LIMITS)
    const data = r.bytes(maxBytes).slice()
    r.done()
    return { meta, data }
  } catch (err) {
    if (err instanceof DecodeError) throw new CorruptLogError(file, err.offset, err.message)
    throw err
  }
}

interface Recovered {
  snapshot: Snapshot | undefined
  entries: Entry[]
  hardState: HardState | undefined
  segments: Segment[]
  lastSize: number
  tornBytes: number
}

/** Loads the newest snapshot, replays every segment in order and reconciles the two. */
async function recover (dir: string, maxRecordBytes: number, fsync: boolean): Promise<Recovered> {
  const snapDir = join(dir, 'snap')
  const walDir = join(dir, 'wal')
  for (const f of await readdir(snapDir)) if (f.endsWith('.tmp')) await rm(join(snapDir, f), { force: true })
  const snaps = (await readdir(snapDir)).filter(f => /^[0-9a-f]{16}-[0-9a-f]{16}\.snap$/.test(f)).sort()
  const newest = snaps.at(-1)
  const snapshot = newest === undefined ? undefined : decodeSnapshot(await readBytes(join(snapDir, newest)), join(snapDir, newest), maxRecordBytes)

  const names = (await readdir(walDir)).filter(f => /^[0-9a-f]{16}\.wal$/.test(f)).sort()
  let log: Entry[] = []
  let hardState: HardState | undefined
  const segments: Segment[] = []
  let lastSize = 0
  let tornBytes = 0
  for (let i = 0; i < names.length; i++) {
    const path = join(walDir, names[i]!)
    const isLast = i === names.length - 1
    const buf = await readBytes(path)
    const seg = parseSegment(buf, path, isLast, maxRecordBytes)
    if (seg.header === undefined) {
      // A segment torn while its header was written holds nothing: remove it.
      await rm(path, { force: true })
      tornBytes += buf.byteLength
      continue
    }
    if (seg.header.reset) log = []
    let maxIndex = 0
    for (const rec of seg.records) {
      if (rec.hardState !== undefined) hardState = rec.hardState
      if (rec.entries.length === 0) continue
      const first = rec.entries[0]!.index
      const base = log.length > 0 ? log[0]!.index : first
      if (first > base + log.length) throw new CorruptLogError(path, rec.offset, `entry ${first} follows entry ${base + log.length - 1}: a segment is missing`)
      log.length = Math.max(0, first - base)
      for (const e of rec.entries) log.push(e)
      maxIndex = Math.max(maxIndex, rec.entries.at(-1)!.index)
    }
    if (seg.validBytes < buf.byteLength) {
      tornBytes += buf.byteLength - seg.validBytes
      const fh = await open(path, 'r+')
      try {
        await fh.truncate(seg.validBytes)
        if (fsync) await fh.datasync()
      } finally {
        await fh.close()
      }
    }
    segments.push({ seq: seg.header.seq, path, maxIndex })
    if (isLast) lastSize = seg.validBytes
  }

  // Reconcile with the snapshot (the rule of InstallSnapshot): keep the entries after it only
  // if the log holds the snapshot's last entry with the same term.
  if (snapshot !== undefined && log.length > 0) {
    const { index: si, term: st } = snapshot.meta
    const base = log[0]!.index
    if (base > si + 1) throw new CorruptLogError(walDir, 0, `the log starts at entry ${base} but the snapshot ends at ${si}: entries are missing`)
    const at = log[si - base]
    if (si >= base && (at === undefined || at.term !== st)) log = []
    else log = log.slice(Math.max(0, si + 1 - base))
  }
  return { snapshot, entries: log, hardState, segments, lastSize, tornBytes }
}

interface ParsedRecord { offset: number, entries: Entry[], hardState: HardState | undefined }

/**
 * Parses one segment. Returns the records and how many bytes are valid; a torn tail is only
 * accepted in the last segment (the file ends inside a record, or the rest is zeros).
 */
export function parseSegment (buf: Uint8Array, path: string, isLast: boolean, maxRecordBytes: number): { header: { seq: number, reset: boolean } | undefined, records: ParsedRecord[], validBytes: number } {
  const corrupt = (offset: number, reason: string): never => { throw new CorruptLogError(path, offset, reason) }
  if (buf.byteLength < SEGMENT_HEADER_BYTES) {
    if (isLast) return { header: undefined, records: [], validBytes: 0 }
    corrupt(0, `segment of ${buf.byteLength} bytes is shorter than its header`)
  }
  const v = new DataView(buf.buffer, buf.byteOffset, buf.byteLength)
  if (v.getUint32(28, true) !== crc32c(buf, 0, 28)) {
    if (isLast && allZero(buf, 0)) return { header: undefined, records: [], validBytes: 0 }
    corrupt(0, 'segment header checksum mismatch')
  }
  if (v.getUint32(0, true) !== SEGMENT_MAGIC) corrupt(0, 'not a WAL segment (bad magic)')
  if (v.getUint8(4) !== WAL_VERSION) corrupt(4, `unsupported WAL version ${v.getUint8(4)} (this build reads ${WAL_VERSION})`)
  const header = { seq: v.getFloat64(8, true), reset: (v.getUint8(5) & FLAG_RESET) !== 0 }
  const records: ParsedRecord[] = []
  let off = SEGMENT_HEADER_BYTES
  while (off < buf.byteLength) {
    const left = buf.byteLength - off
    if (left < RECORD_HEADER_BYTES) {
      if (isLast) return { header, records, validBytes: off }
      corrupt(off, `${left} bytes after the last record, less than a record header`)
    }
    if (v.getUint32(off + 8, true) !== crc32c(buf, off, off + 8)) {
      if (isLast && allZero(buf, off)) return { header, records, validBytes: off }
      corrupt(off, 'record header checksum mismatch')
    }
    const version = v.getUint8(off)
    if (version !== WAL_VERSION) corrupt(off, `unsupported record version ${version} (this build reads ${WAL_VERSION})`)
    const kind = v.getUint8(off + 1)
    const len = v.getUint32(off + 4, true)
    if (len > maxRecordBytes) corrupt(off, `record of ${len} bytes exceeds maxRecordBytes ${maxRecordBytes}`)
    if (len > left - RECORD_HEADER_BYTES) {
      // The file ends inside this record: a write torn by a crash (never synced, never acknowledged).
      if (isLast) return { header, records, validBytes: off }
      corrupt(off, `record of ${len} bytes runs past the end of a closed segment`)
    }
    const start = off + RECORD_HEADER_BYTES
    if (v.getUint32(off + 12, true) !== crc32c(buf, start, start + len)) corrupt(off, 'record checksum mismatch: a complete record was damaged after it was written (it may have been acknowledged)')
    if (kind !== KIND_BATCH) corrupt(off, `unknown record kind ${kind}`)
    const r = new BinaryReader(buf, path, start, start + len)
    try {
      const hasHs = r.u8()
      if (hasHs > 1) r.fail(`bad hard-state flag ${hasHs}`)
      const hardState = hasHs === 1 ? readHardState(r, DEFAULT_DECODE_LIMITS) : undefined
      const entries = readEntries(r, { ...DEFAULT_DECODE_LIMITS, maxEntries: 1 << 22, maxEntryBytes: maxRecordBytes })
      r.done()
      for (let i = 1; i < entries.length; i++) if (entries[i]!.index !== entries[0]!.index + i) r.fail('entries of a record are not contiguous')
      records.push({ offset: off, entries, hardState })
    } catch (err) {
      if (err instanceof DecodeError) corrupt(err.offset, err.message)
      throw err
    }
    off = start + len
  }
  return { header, records, validBytes: off }
}

/** A file as a plain Uint8Array (a Buffer's slice() would share memory instead of copying). */
async function readBytes (path: string): Promise<Uint8Array> {
  const b = await readFile(path)
  return new Uint8Array(b.buffer, b.byteOffset, b.byteLength)
}

function allZero (buf: Uint8Array, from: number): boolean {
  for (let i = from; i < buf.byteLength; i++) if (buf[i] !== 0) return false
  return true
}

/**
 * A lock file holding the owner's pid, created exclusively. A lock left by a process that no
 * longer exists (kill -9) is taken over; one held by a live process, this one included, is not.
 */
async function lockDir (dir: string): Promise<void> {
  const path = join(dir, 'LOCK')
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      await writeFile(path, String(process.pid), { flag: 'wx' })
      return
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err
    }
    const pid = Number((await readFile(path, 'utf8').catch(() => '')).trim())
    if (Number.isInteger(pid) && pid > 0 && (pid === process.pid || isAlive(pid))) throw new DataDirLockedError(dir, pid, pid === process.pid)
    await unlink(path).catch(() => {})
  }
  throw new DataDirLockedError(dir, 0, false)
}

function isAlive (pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM'
  }
}
