import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { encodeBatch, encodeSnapshot, decodeSnapshot, parseSegment } from '../../src/node/file-storage.js'
import type { Entry } from '../../src/types.js'
import { fcParams } from '../support/fc.js'

/** A valid segment: the 32-byte header of a fresh segment followed by records. */
function segment (batches: Entry[][]): Uint8Array {
  // Build a real header by parsing what FileStorage writes: header bytes are deterministic.
  const header = new Uint8Array(32)
  const v = new DataView(header.buffer)
  v.setUint32(0, 0x57503250, true)
  v.setUint8(4, 1)
  v.setFloat64(8, 1, true)
  v.setUint32(28, crc(header.subarray(0, 28)), true)
  const parts = [header, ...batches.map(entries => encodeBatch({ entries, hardState: { term: 1, vote: 'n1', commit: 0 } }))]
  const out = new Uint8Array(parts.reduce((n, p) => n + p.byteLength, 0))
  let o = 0
  for (const p of parts) { out.set(p, o); o += p.byteLength }
  return out
}
function crc (b: Uint8Array): number {
  let c = ~0 >>> 0
  for (const x of b) {
    c ^= x
    for (let k = 0; k < 8; k++) c = (c & 1) !== 0 ? (c >>> 1) ^ 0x82f63b78 : c >>> 1
  }
  return ~c >>> 0
}

const entries = fc.array(fc.record({ term: fc.nat(5), data: fc.uint8Array({ maxLength: 40 }), ctx: fc.option(fc.string({ maxLength: 8 }), { nil: undefined }) }), { minLength: 1, maxLength: 5 })
const batches = fc.array(entries, { minLength: 1, maxLength: 6 }).map(bs => {
  let index = 1
  return bs.map(b => b.map((e): Entry => ({ index: index++, term: e.term, type: 'normal', data: e.data, ...(e.ctx !== undefined ? { ctx: e.ctx } : {}) })))
})

function parseOrCorrupt (buf: Uint8Array, isLast: boolean): void {
  try {
    parseSegment(buf, '/fuzz.wal', isLast, 1 << 20)
  } catch (err) {
    expect((err as Error).name).toBe('CorruptLogError')
  }
}

describe('WAL reader under arbitrary bytes', () => {
  it('the header checked against the real writer: a valid segment parses back to its batches', () => {
    fc.assert(fc.property(batches, bs => {
      const r = parseSegment(segment(bs), '/x.wal', true, 1 << 20)
      expect(r.records.map(x => x.entries)).toEqual(bs)
    }), fcParams(100, 'wal round trip'))
  })

  it('random bytes, mutations, truncations and appended garbage: CorruptLogError or a valid prefix, never anything else', () => {
    const mutation = fc.record({ at: fc.nat(), byte: fc.integer({ min: 0, max: 255 }) })
    fc.assert(fc.property(batches, fc.array(mutation, { maxLength: 4 }), fc.nat(), fc.uint8Array({ maxLength: 64 }), fc.boolean(), (bs, muts, cut, tail, isLast) => {
      const good = segment(bs)
      const bad = good.slice()
      for (const m of muts) bad[m.at % bad.byteLength] = m.byte
      parseOrCorrupt(bad, isLast)
      parseOrCorrupt(good.subarray(0, cut % (good.byteLength + 1)), isLast)
      const withTail = new Uint8Array(good.byteLength + tail.byteLength)
      withTail.set(good)
      withTail.set(tail, good.byteLength)
      parseOrCorrupt(withTail, isLast)
      // A prefix cut anywhere in the last segment recovers whole records only.
      if (isLast) {
        const r = parseSegment(good.subarray(0, Math.max(32, cut % (good.byteLength + 1))), '/x.wal', true, 1 << 20)
        expect(r.records.map(x => x.entries)).toEqual(bs.slice(0, r.records.length))
      }
    }), fcParams(300, 'wal reader fuzz'))
  })

  it('pure noise never crashes the segment and snapshot readers', () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 400 }), fc.boolean(), (noise, isLast) => {
      parseOrCorrupt(noise, isLast)
      try {
        decodeSnapshot(noise, '/x.snap', 1 << 20)
      } catch (err) {
        expect((err as Error).name).toBe('CorruptLogError')
      }
    }), fcParams(300, 'wal noise fuzz'))
    const s = encodeSnapshot({ meta: { index: 3, term: 1, conf: { voters: ['a'], learners: [] } }, data: new Uint8Array([1, 2]) })
    expect(decodeSnapshot(s, '/x.snap', 100).meta.index).toBe(3)
  })
})
