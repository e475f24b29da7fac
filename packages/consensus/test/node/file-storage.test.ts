import { execFileSync } from 'node:child_process'
import { cpSync, existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, truncateSync, unlinkSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { mountTmpfs, unmountTmpfs } from '../support/tmpfs.js'
import type { Entry, HardState } from '../../src/types.js'
import { FileStorage } from '../../src/node/index.js'

const enc = new TextEncoder()
const root = mkdtempSync(join(tmpdir(), 'raft-wal-'))
let dirs = 0
const fresh = (): string => join(root, `d${++dirs}`)
afterAll(() => { rmSync(root, { recursive: true, force: true }) })

const ent = (index: number, term: number, text = `v${index}`): Entry => ({ index, term, type: 'normal', data: enc.encode(text) })
const range = (lo: number, hi: number, term: number, pad = 0): Entry[] => Array.from({ length: hi - lo + 1 }, (_, i) => ent(lo + i, term, `v${lo + i}${'.'.repeat(pad)}`))
const segs = (dir: string): string[] => readdirSync(join(dir, 'wal')).sort().map(f => join(dir, 'wal', f))
const hs = (term: number, commit: number, vote = 'n1'): HardState => ({ term, vote, commit })
/** What a kill -9 leaves: files as written, the lock of a process that is gone. */
const crash = (dir: string): void => { unlinkSync(join(dir, 'LOCK')) }
const terms = (s: FileStorage): number[] => {
  const out: number[] = []
  for (let i = s.firstIndex(); i <= s.lastIndex(); i++) out.push(s.term(i))
  return out
}

describe('FileStorage', () => {
  it('persists entries and hard state across a reopen, with one fsync per synced batch', async () => {
    const dir = fresh()
    const s = await FileStorage.open({ dir, voters: ['n1', 'n2', 'n3'] })
    const before = s.stats.fsyncs
    await s.persist({ entries: range(1, 3, 1), hardState: hs(1, 0) }, { sync: true })
    await s.persist({ entries: range(4, 10, 1), hardState: hs(1, 3) }, { sync: true })
    await s.persist({ entries: [], hardState: hs(1, 8) }, { sync: false })
    // Group commit: one fdatasync per batch that asks for it, never one per entry; a
    // commit-only hard state waits for the next record (or close()).
    expect(s.stats.fsyncs - before).toBe(2)
    expect(s.stats.records).toBe(2)
    await s.close()
    const r = await FileStorage.open({ dir })
    expect(r.lastIndex()).toBe(10)
    expect(r.initialState().hardState).toEqual(hs(1, 8))
    expect(r.initialState().conf.voters).toEqual(['n1', 'n2', 'n3'])
    expect(new TextDecoder().decode(r.entries(7, 8)[0]!.data)).toBe('v7')
    await r.close()
  })

  it('keeps ctx and configuration changes through the binary format', async () => {
    const dir = fresh()
    const s = await FileStorage.open({ dir })
    const conf: Entry = { index: 1, term: 2, type: 'conf', data: new Uint8Array(0), change: { type: 'addLearner', node: '12D3KooWxyz' }, ctx: 'c1' }
    await s.persist({ entries: [conf, { ...ent(2, 2), ctx: 'n1:7' }] }, { sync: true })
    await s.close()
    const r = await FileStorage.open({ dir })
    expect(r.entries(1, 3)).toEqual([conf, { ...ent(2, 2), ctx: 'n1:7' }])
    await r.close()
  })

  it('25: a WAL cut at every byte offset of its last records recovers to the last whole record', async () => {
    const dir = fresh()
    const s = await FileStorage.open({ dir })
    const boundaries: Array<{ size: number, last: number }> = []
    const seg = (): string => segs(dir).at(-1)!
    for (let b = 0; b < 6; b++) {
      await s.persist({ entries: range(b * 3 + 1, b * 3 + 3, 1), hardState: hs(1, b * 3) }, { sync: true })
      boundaries.push({ size: statSync(seg()).size, last: b * 3 + 3 })
    }
    await s.close()
    const full = readFileSync(seg())
    const from = boundaries[2]!.size
    let checked = 0
    for (let cut = from; cut <= full.byteLength; cut++) {
      const d = fresh()
      cpSync(dir, d, { recursive: true })
      const file = segs(d).at(-1)!
      truncateSync(file, cut)
      const r = await FileStorage.open({ dir: d })
      const whole = boundaries.filter(x => x.size <= cut).at(-1)!
      expect(r.lastIndex(), `cut at ${cut}`).toBe(whole.last)
      expect(r.stats.tornBytesTruncated).toBe(cut - whole.size)
      await r.close()
      // The torn bytes are gone from the file, so the next append starts at a record boundary.
      expect(statSync(file).size).toBe(whole.size)
      rmSync(d, { recursive: true })
      checked++
    }
    expect(checked).toBe(full.byteLength - from + 1)
  }, 60_000)

  it('25: a pre-allocated tail of zeros is a torn tail, not corruption', async () => {
    const dir = fresh()
    const s = await FileStorage.open({ dir })
    await s.persist({ entries: range(1, 4, 1) }, { sync: true })
    await s.close()
    const file = segs(dir).at(-1)!
    writeFileSync(file, Buffer.concat([readFileSync(file), Buffer.alloc(8192)]))
    const r = await FileStorage.open({ dir })
    expect(r.lastIndex()).toBe(4)
    await r.persist({ entries: [ent(5, 1)] }, { sync: true })
    await r.close()
    expect((await FileStorage.open({ dir: dir })).lastIndex()).toBe(5)
  })

  it('26: a bit flipped in the middle of the WAL refuses to start with an error naming the file and offset', async () => {
    const dir = fresh()
    const s = await FileStorage.open({ dir })
    for (let b = 0; b < 5; b++) await s.persist({ entries: range(b * 4 + 1, b * 4 + 4, 2), hardState: hs(2, b * 4) }, { sync: true })
    await s.close()
    const file = segs(dir).at(-1)!
    const good = readFileSync(file)
    // Every byte of the middle third, one bit each.
    const lo = Math.floor(good.byteLength / 3)
    const hi = Math.floor((2 * good.byteLength) / 3)
    for (let i = lo; i < hi; i++) {
      const bad = Buffer.from(good)
      bad[i] = bad[i]! ^ (1 << (i % 8))
      writeFileSync(file, bad)
      const err = await FileStorage.open({ dir }).then(() => undefined, (e: unknown) => e as Error & { file?: string, offset?: number })
      expect(err?.name, `flip at ${i}`).toBe('CorruptLogError')
      expect(err!.file).toBe(file)
      expect(err!.offset).toBeLessThanOrEqual(i)
      expect(err!.message).toContain(file)
      // The lock was released: the operator can repair and retry.
      expect(existsSync(join(dir, 'LOCK'))).toBe(false)
    }
  }, 60_000)

  it('26: a damaged snapshot file refuses to start', async () => {
    const dir = fresh()
    const s = await FileStorage.open({ dir, voters: ['n1'] })
    await s.persist({ entries: range(1, 10, 1), hardState: hs(1, 10) }, { sync: true })
    await s.compact({ meta: { index: 8, term: 1, conf: { voters: ['n1'], learners: [] } }, data: enc.encode('state at 8') })
    await s.close()
    const snap = join(dir, 'snap', readdirSync(join(dir, 'snap')).sort().at(-1)!)
    const b = readFileSync(snap)
    b[b.byteLength - 3] = b[b.byteLength - 3]! ^ 0x10
    writeFileSync(snap, b)
    await expect(FileStorage.open({ dir })).rejects.toMatchObject({ name: 'CorruptLogError', file: snap })
  })

  it('27: after compaction and a crash before old segments were deleted, the log and snapshot agree', async () => {
    const dir = fresh()
    const s = await FileStorage.open({ dir, voters: ['n1'], segmentBytes: 4096 })
    for (let b = 0; b < 40; b++) await s.persist({ entries: range(b * 5 + 1, b * 5 + 5, 1, 100), hardState: hs(1, b * 5) }, { sync: true })
    expect(segs(dir).length).toBeGreaterThan(2)
    const saved = join(root, `saved${dirs}`)
    cpSync(join(dir, 'wal'), saved, { recursive: true })
    await s.compact({ meta: { index: 150, term: 1, conf: { voters: ['n1'], learners: [] } }, data: enc.encode('state at 150') })
    expect(segs(dir).length).toBeLessThan(readdirSync(saved).length)
    crash(dir)
    // The crash came after the snapshot was renamed but before the segments were unlinked.
    cpSync(saved, join(dir, 'wal'), { recursive: true })
    const r = await FileStorage.open({ dir })
    expect(r.snapshot().meta.index).toBe(150)
    expect(new TextDecoder().decode(r.snapshot().data)).toBe('state at 150')
    expect(r.firstIndex()).toBe(151)
    expect(r.lastIndex()).toBe(200)
    expect(r.initialState().hardState.commit).toBe(195)
    await r.close()
  })

  it('27: a crash before compaction keeps every entry after the last snapshot, so a state machine is rebuilt once from snapshot + log', async () => {
    const dir = fresh()
    const s = await FileStorage.open({ dir, voters: ['n1'] })
    await s.persist({ entries: range(1, 30, 1), hardState: hs(1, 30) }, { sync: true })
    await s.compact({ meta: { index: 10, term: 1, conf: { voters: ['n1'], learners: [] } }, data: enc.encode('10') })
    crash(dir)
    const r = await FileStorage.open({ dir })
    // The applied index is the snapshot's, stored in the same file as the state: entries
    // 11..30 are re-applied exactly once on top of it, never 1..10 again.
    expect(r.snapshot().meta.index).toBe(10)
    expect(r.entries(r.firstIndex(), r.lastIndex() + 1).map(e => e.index)).toEqual(range(11, 30, 1).map(e => e.index))
    await r.close()
  })

  it('28: overlapping writes (a new term truncating entries still being written) land in call order', async () => {
    const dir = fresh()
    const s = await FileStorage.open({ dir })
    // Not awaited in between: a follower's append of term 1 is still in flight when the new
    // leader of term 2 overwrites its tail (etcd's async_storage_writes_append_aba_race).
    const a = s.persist({ entries: range(1, 6, 1), hardState: hs(1, 0, 'n1') }, { sync: true })
    const b = s.persist({ entries: range(4, 5, 2), hardState: hs(2, 3, 'n2') }, { sync: true })
    const c = s.persist({ entries: [ent(6, 2)] }, { sync: true })
    await Promise.all([a, b, c])
    expect(terms(s)).toEqual([1, 1, 1, 2, 2, 2])
    crash(dir)
    const r = await FileStorage.open({ dir })
    expect(terms(r)).toEqual([1, 1, 1, 2, 2, 2])
    expect(r.initialState().hardState).toEqual(hs(2, 3, 'n2'))
    await r.close()
  })

  it('rotates segments, compacts them away and keeps the hard state when old segments go', async () => {
    const dir = fresh()
    const s = await FileStorage.open({ dir, voters: ['n1'], segmentBytes: 4096 })
    await s.persist({ entries: [], hardState: hs(7, 0, 'n3') }, { sync: true })
    for (let b = 0; b < 60; b++) await s.persist({ entries: range(b * 4 + 1, b * 4 + 4, 7, 100) }, { sync: true })
    const n = segs(dir).length
    expect(n).toBeGreaterThan(3)
    await s.compact({ meta: { index: 230, term: 7, conf: { voters: ['n1'], learners: [] } }, data: enc.encode('x') })
    expect(segs(dir).length).toBeLessThan(n)
    await s.close()
    const r = await FileStorage.open({ dir })
    expect(r.firstIndex()).toBe(231)
    expect(r.lastIndex()).toBe(240)
    // The vote survives although the record that wrote it was in a deleted segment.
    expect(r.initialState().hardState).toEqual(hs(7, 0, 'n3'))
    await r.close()
  })

  it('installing a snapshot from the leader supersedes the whole log', async () => {
    const dir = fresh()
    const s = await FileStorage.open({ dir, voters: ['n1', 'n2', 'n3'] })
    await s.persist({ entries: range(1, 20, 1), hardState: hs(1, 5) }, { sync: true })
    const snapshot = { meta: { index: 50, term: 3, conf: { voters: ['n1', 'n2', 'n3'], learners: ['n4'] } }, data: enc.encode('leader state') }
    await s.persist({ entries: [ent(51, 3)], hardState: hs(3, 50, 'n2'), snapshot }, { sync: true })
    expect(segs(dir)).toHaveLength(1)
    crash(dir)
    const r = await FileStorage.open({ dir })
    expect(r.snapshot().meta).toEqual(snapshot.meta)
    expect(r.firstIndex()).toBe(51)
    expect(r.lastIndex()).toBe(51)
    expect(r.initialState().conf.learners).toEqual(['n4'])
    await r.close()
  })

  it('locks the data directory; a lock left by a dead process is taken over', async () => {
    const dir = fresh()
    const s = await FileStorage.open({ dir })
    await expect(FileStorage.open({ dir })).rejects.toMatchObject({ name: 'DataDirLockedError' })
    // Another live process holding it.
    await s.close()
    const child = execFileSync(process.execPath, ['-e', `require('fs').writeFileSync(${JSON.stringify(join(dir, 'LOCK'))}, String(process.pid)); console.log(process.pid)`]).toString().trim()
    // That process has exited: its lock is stale.
    expect(readFileSync(join(dir, 'LOCK'), 'utf8')).toBe(child)
    const r = await FileStorage.open({ dir })
    expect(readFileSync(join(dir, 'LOCK'), 'utf8')).toBe(String(process.pid))
    await r.close()
    writeFileSync(join(dir, 'LOCK'), '1') // pid 1 is alive
    await expect(FileStorage.open({ dir })).rejects.toMatchObject({ name: 'DataDirLockedError' })
  })
})


const tmpfs = mountTmpfs(join(root, 'tmpfs'), 512 * 1024)
afterAll(() => { unmountTmpfs(tmpfs) })

// Mounting needs CAP_SYS_ADMIN; without it there is no honest way to fill a disk on loopback.
describe.skipIf(tmpfs === undefined)('FileStorage on a full disk', () => {
  it('rejects a write with DiskFullError, stays usable, and succeeds once space is freed', async () => {
    const dir = join(tmpfs!, 'node')
    const s = await FileStorage.open({ dir })
    await s.persist({ entries: range(1, 10, 1) }, { sync: true })
    // Fill the rest of the file system.
    const filler = join(tmpfs!, 'filler')
    try { writeFileSync(filler, Buffer.alloc(1 << 20)) } catch { /* ENOSPC: the point */ }
    const big = { entries: [ent(11, 1, 'x'.repeat(64 * 1024))] }
    await expect(s.persist(big, { sync: true })).rejects.toMatchObject({ name: 'DiskFullError' })
    expect(s.lastIndex()).toBe(10)
    rmSync(filler)
    await s.persist(big, { sync: true })
    await s.close()
    const r = await FileStorage.open({ dir })
    expect(r.lastIndex()).toBe(11)
    await r.close()
  })
})
