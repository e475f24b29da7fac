import { mkdir, open, readdir, readFile, rm, stat, type FileHandle } from 'node:fs/promises'
import { join } from 'node:path'
import { DEFAULT_MEMORY_LOG_EVENTS, DEFAULT_RETENTION_BYTES, DEFAULT_RETENTION_MS, DEFAULT_SEGMENT_BYTES } from './constants.js'
import { EventLogStoppedError } from './errors.js'
import type { Logger } from '../logger.js'

/** One logged event: its place in this peer's log, when it arrived, its clock block. */
export interface LogRecord {
  /** Position in this peer's log, from 1, gap-free; the SSE event id. */
  offset: number
  /** When this peer logged it (ms since the epoch). */
  time: number
  /** The clock block's CID, as a string. */
  cid: string
  /** The event's id. */
  eventId: string
  /** The clock block (dag-cbor `{ height, parents, payload }`). */
  block: Uint8Array
}

export interface EventLogInit {
  /** Directory of the segments; without it the log is kept in memory only. */
  dir?: string
  /** @default 7 days */
  retentionMs?: number
  /** @default 256 MiB */
  retentionBytes?: number
  /** @default 8 MiB */
  segmentBytes?: number
  /** Newest records also kept in memory (all of them without a `dir`). @default 10_000 */
  memoryEvents?: number
  logger: Logger
  now?: () => number
}

interface Segment {
  path: string
  first: number
  last: number
  bytes: number
  lastTime: number
  ids: string[]
}

const SEGMENT_NAME = /^seg-(\d{16})\.jsonl$/

/**
 * The peer's append-only event log: JSON-lines segments `seg-<first offset>.jsonl` in its data
 * directory, rolled at `segmentBytes`, whole segments dropped past `retentionMs` or
 * `retentionBytes` (the oldest first, the one being written never). A torn last line (a crash
 * mid-write) is dropped on open. A write error (a full disk) stops the file log with
 * `EventLogStoppedError` and the peer goes on: offsets keep counting in memory so live
 * subscribers and recent replays still work.
 */
export class EventLog {
  readonly #init: Required<Omit<EventLogInit, 'dir'>> & { dir: string | undefined }
  readonly #segments: Segment[] = []
  readonly #ids = new Map<string, number>()
  readonly #tail: LogRecord[] = []
  #next = 1
  #file: FileHandle | undefined
  #pending: string[] = []
  #flushing: Promise<void> = Promise.resolve()
  #flushScheduled = false
  #stopped: EventLogStoppedError | undefined
  #closed = false

  constructor (init: EventLogInit) {
    this.#init = {
      dir: init.dir,
      retentionMs: init.retentionMs ?? DEFAULT_RETENTION_MS,
      retentionBytes: init.retentionBytes ?? DEFAULT_RETENTION_BYTES,
      segmentBytes: init.segmentBytes ?? DEFAULT_SEGMENT_BYTES,
      memoryEvents: init.memoryEvents ?? DEFAULT_MEMORY_LOG_EVENTS,
      logger: init.logger,
      now: init.now ?? Date.now,
    }
  }

  /** The error that stopped the file log, if one did. */
  get stopped (): EventLogStoppedError | undefined { return this.#stopped }
  /** The offset the next record gets. */
  get nextOffset (): number { return this.#next }
  /** The oldest offset still retained (`nextOffset` when empty). */
  get firstOffset (): number {
    return this.#segments[0]?.first ?? this.#tail[0]?.offset ?? this.#next
  }

  /** Opens the directory and reads what it holds; yields every retained record, oldest first. */
  async * open (): AsyncGenerator<LogRecord> {
    const dir = this.#init.dir
    if (dir === undefined) return
    await mkdir(dir, { recursive: true })
    const names = (await readdir(dir)).filter((n) => SEGMENT_NAME.test(n)).sort()
    for (const name of names) {
      const path = join(dir, name)
      const seg: Segment = { path, first: Number(SEGMENT_NAME.exec(name)![1]), last: 0, bytes: (await stat(path)).size, lastTime: 0, ids: [] }
      for (const r of await readSegment(path)) {
        if (r.offset < this.#next) continue
        seg.last = r.offset
        seg.lastTime = r.time
        seg.ids.push(r.eventId)
        this.#ids.set(r.eventId, r.offset)
        this.#next = r.offset + 1
        this.#remember(r)
        yield r
      }
      if (seg.last === 0) await rm(path, { force: true })
      else this.#segments.push(seg)
    }
    await this.prune()
  }

  /** The offset of a logged event id, if retained. */
  offsetOf (eventId: string): number | undefined { return this.#ids.get(eventId) }

  /** Appends a record (offset assigned now; the write is batched). */
  append (entry: Omit<LogRecord, 'offset' | 'time'>): LogRecord {
    const record: LogRecord = { ...entry, offset: this.#next++, time: this.#init.now() }
    this.#ids.set(record.eventId, record.offset)
    this.#remember(record)
    if (this.#init.dir !== undefined && this.#stopped === undefined && !this.#closed) {
      this.#pending.push(JSON.stringify({ o: record.offset, t: record.time, c: record.cid, e: record.eventId, b: Buffer.from(record.block).toString('base64') }) + '\n')
      if (!this.#flushScheduled) {
        this.#flushScheduled = true
        setImmediate(() => { this.#flushScheduled = false; void this.flush() })
      }
    } else if (this.#init.dir === undefined && this.#ids.size > this.#init.memoryEvents) {
      // Memory mode: the id index follows the ring.
      for (const [id, off] of this.#ids) { if (off >= this.#tail[0]!.offset) break; this.#ids.delete(id) }
    }
    return record
  }

  /** Writes what is pending (resolves when it is on disk or the log stopped). */
  async flush (): Promise<void> {
    const run = this.#flushing.then(async () => this.#write())
    this.#flushing = run
    await run
  }

  /** Records from `offset` on, oldest first (what is retained of them). */
  async * read (from: number): AsyncGenerator<LogRecord> {
    let at = Math.max(from, this.firstOffset)
    const tailStart = this.#tail[0]?.offset ?? this.#next
    if (at < tailStart) {
      await this.flush()
      for (const seg of [...this.#segments]) {
        if (seg.last < at || seg.first >= tailStart) continue
        for (const r of await readSegment(seg.path).catch(() => [])) {
          if (r.offset < at || r.offset >= tailStart) continue
          at = r.offset + 1
          yield r
        }
      }
      at = Math.max(at, tailStart)
    }
    // The tail may grow while the consumer awaits: index by offset each step.
    while (true) {
      const first = this.#tail[0]?.offset
      if (first === undefined || at >= this.#next) return
      const r = this.#tail[Math.max(0, at - first)]
      if (r === undefined) return
      at = r.offset + 1
      yield r
    }
  }

  /** The first offset logged at or after `time` (ms). */
  async offsetAt (time: number): Promise<number> {
    for await (const r of this.read(this.firstOffset)) if (r.time >= time) return r.offset
    return this.#next
  }

  /** Flushes and closes (idempotent). */
  async close (): Promise<void> {
    if (this.#closed) return
    await this.flush()
    this.#closed = true
    await this.#file?.close().catch(() => {})
    this.#file = undefined
  }

  #remember (r: LogRecord): void {
    this.#tail.push(r)
    if (this.#tail.length > this.#init.memoryEvents) this.#tail.splice(0, this.#tail.length - this.#init.memoryEvents)
  }

  async #write (): Promise<void> {
    if (this.#pending.length === 0 || this.#stopped !== undefined || this.#closed) return
    const lines = this.#pending
    this.#pending = []
    const dir = this.#init.dir!
    try {
      let i = 0
      while (i < lines.length) {
        let seg = this.#segments.at(-1)
        if (seg === undefined || seg.bytes >= this.#init.segmentBytes) {
          await this.#file?.close()
          this.#file = undefined
          const first = Number((JSON.parse(lines[i]!) as { o: number }).o)
          seg = { path: join(dir, `seg-${String(first).padStart(16, '0')}.jsonl`), first, last: first, bytes: 0, lastTime: 0, ids: [] }
          this.#segments.push(seg)
          await this.prune()
        }
        this.#file ??= await open(seg.path, 'a')
        // Fill this segment up to its size, then roll.
        let text = ''
        const chunk: string[] = []
        while (i < lines.length && (chunk.length === 0 || seg.bytes + text.length < this.#init.segmentBytes)) {
          text += lines[i]!
          chunk.push(lines[i]!)
          i++
        }
        await this.#file.write(text)
        await this.#file.datasync()
        seg.bytes += Buffer.byteLength(text)
        for (const line of chunk) {
          const r = JSON.parse(line) as { o: number, t: number, e: string }
          seg.last = r.o
          seg.lastTime = r.t
          seg.ids.push(r.e)
        }
      }
    } catch (err) {
      this.#stopped = new EventLogStoppedError(dir, { cause: err })
      this.#init.logger.error({ err: this.#stopped.message }, 'event log stopped')
      await this.#file?.close().catch(() => {})
      this.#file = undefined
    }
  }

  /** Drops whole segments, oldest first, past the retention (never the last one). */
  async prune (): Promise<void> {
    const cutoff = this.#init.now() - this.#init.retentionMs
    let total = this.#segments.reduce((n, s) => n + s.bytes, 0)
    while (this.#segments.length > 1) {
      const oldest = this.#segments[0]!
      if (oldest.lastTime >= cutoff && total <= this.#init.retentionBytes) break
      this.#segments.shift()
      total -= oldest.bytes
      for (const id of oldest.ids) if (this.#ids.get(id)! <= oldest.last) this.#ids.delete(id)
      await rm(oldest.path, { force: true })
      this.#init.logger.info({ segment: oldest.path, first: oldest.first, last: oldest.last }, 'event log segment dropped by retention')
    }
  }
}

async function readSegment (path: string): Promise<LogRecord[]> {
  const text = await readFile(path, 'utf8')
  const out: LogRecord[] = []
  for (const line of text.split('\n')) {
    if (line.length === 0) continue
    try {
      const r = JSON.parse(line) as { o: number, t: number, c: string, e: string, b: string }
      out.push({ offset: r.o, time: r.t, cid: r.c, eventId: r.e, block: new Uint8Array(Buffer.from(r.b, 'base64')) })
    } catch {
      break // a torn last line
    }
  }
  return out
}
