// The durable event log: replay, restart, torn lines, retention, and a full disk.
import { appendFile, mkdir, mkdtemp, readdir, rm, symlink } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { EventLog, type LogRecord } from '../../src/events/event-log.js'
import { noopLogger } from '../../src/logger.js'

let dir: string
beforeAll(async () => { dir = await mkdtemp(join(tmpdir(), 'p2p-mcp-event-log-')) })
afterAll(async () => { await rm(dir, { recursive: true, force: true }) })

const entry = (i: number): Omit<LogRecord, 'offset' | 'time'> => ({ cid: `cid-${i}`, eventId: `evt-${i}`, block: new Uint8Array(100).fill(i % 256) })

async function all (log: EventLog, from = 1): Promise<LogRecord[]> {
  const out: LogRecord[] = []
  for await (const r of log.read(from)) out.push(r)
  return out
}

async function drain (gen: AsyncGenerator<LogRecord>): Promise<number> {
  let n = 0
  for await (const _ of gen) n++
  return n
}

describe('event log', () => {
  it('replays from an offset, survives a restart, drops a torn last line', async () => {
    const d = join(dir, 'a')
    const log = new EventLog({ dir: d, logger: noopLogger, segmentBytes: 2048, memoryEvents: 5 })
    await drain(log.open())
    for (let i = 1; i <= 30; i++) log.append(entry(i))
    await log.flush()
    expect((await all(log, 10)).map((r) => r.offset)).toEqual(Array.from({ length: 21 }, (_, i) => i + 10))
    expect((await all(log, 1)).map((r) => r.eventId)).toEqual(Array.from({ length: 30 }, (_, i) => `evt-${i + 1}`))
    await log.close()
    const segments = (await readdir(d)).sort()
    expect(segments.length).toBeGreaterThan(1)
    await appendFile(join(d, segments.at(-1)!), '{"o":31,"t":1,"c":"x","e":"evt-x","b":"AA')
    const again = new EventLog({ dir: d, logger: noopLogger, segmentBytes: 2048 })
    expect(await drain(again.open())).toBe(30)
    expect(again.nextOffset).toBe(31)
    expect(again.offsetOf('evt-7')).toBe(7)
    await again.close()
  })

  it('retention drops whole old segments by size and by age, never the newest', async () => {
    let now = 1_000_000
    const log = new EventLog({ dir: join(dir, 'b'), logger: noopLogger, segmentBytes: 1024, retentionBytes: 4096, retentionMs: 10_000, now: () => now })
    await drain(log.open())
    for (let i = 1; i <= 100; i++) { log.append(entry(i)); await log.flush() }
    expect(log.firstOffset).toBeGreaterThan(1)
    const kept = await all(log, 1)
    expect(kept.at(-1)!.offset).toBe(100)
    expect(kept.reduce((n, r) => n + r.block.length * 1.4, 0)).toBeLessThan(4096 + 2048)
    expect(log.offsetOf('evt-1')).toBeUndefined()
    now += 60_000
    log.append(entry(101))
    await log.flush()
    await log.prune()
    expect(log.firstOffset).toBeGreaterThan(90)
    await log.close()
  })

  it('a full disk stops the file log with EventLogStoppedError; appends and recent replay go on', async () => {
    const d = join(dir, 'full')
    await mkdir(d, { recursive: true })
    // /dev/full fails every write with ENOSPC: a real full disk for this one file.
    await symlink('/dev/full', join(d, 'seg-0000000000000001.jsonl'))
    const log = new EventLog({ dir: d, logger: noopLogger })
    log.append(entry(1))
    await log.flush()
    expect(log.stopped).toMatchObject({ name: 'EventLogStoppedError', code: 'ERR_EVENT_LOG_STOPPED' })
    expect(log.stopped!.message).toMatch(/ENOSPC|no space/i)
    log.append(entry(2))
    await log.flush()
    expect((await all(log, 1)).map((r) => r.offset)).toEqual([1, 2])
  })
})
