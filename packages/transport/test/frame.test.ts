import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { FrameDecoder, FrameEncoder, varintLength, writeVarint } from '../src/frame.js'
import { FrameTooLargeError, InvalidFrameError } from '../src/errors.js'
import { outcomeTally, typedOutcome } from '@p2p-mcp/testkit/fuzz'

const numRuns = Number(process.env.FC_NUM_RUNS ?? 150)
const utf8 = new TextEncoder()

/** The reference encoding, written the obvious way. */
function reference (texts: string[]): Uint8Array {
  const parts: number[] = []
  for (const t of texts) {
    const bytes = utf8.encode(t)
    let n = bytes.length
    while (n >= 0x80) { parts.push((n & 0x7f) | 0x80); n = Math.floor(n / 128) }
    parts.push(n)
    parts.push(...bytes)
  }
  return Uint8Array.from(parts)
}

/** Splits `bytes` at the given (sorted, deduplicated) cut points. */
function split (bytes: Uint8Array, cuts: number[]): Uint8Array[] {
  const points = [...new Set(cuts.map((c) => c % (bytes.length + 1)))].sort((x, y) => x - y)
  const out: Uint8Array[] = []
  let at = 0
  for (const p of points) { out.push(bytes.subarray(at, p)); at = p }
  out.push(bytes.subarray(at))
  return out
}

function decodeAll (chunks: Uint8Array[], max: number): string[] {
  const decoder = new FrameDecoder(max)
  const out: string[] = []
  const text = new TextDecoder()
  for (const c of chunks) decoder.push(c, (f) => { out.push(text.decode(f)) })
  expect(decoder.pendingBytes).toBe(0)
  return out
}

const texts = fc.array(fc.oneof(fc.string(), fc.string({ unit: 'binary', maxLength: 300 }), fc.string({ minLength: 120, maxLength: 5000 })), { maxLength: 12 })

describe('frame codec', () => {
  it('encodes exactly like the reference and decodes back, however the bytes are chunked', () => {
    fc.assert(fc.property(texts, fc.array(fc.nat(), { maxLength: 30 }), (input, cuts) => {
      // Lone surrogates become U+FFFD in UTF-8, on both paths.
      const expected = input.map((t) => new TextDecoder().decode(utf8.encode(t)))
      const encoded = new FrameEncoder().encode(input)
      expect(encoded).toEqual(reference(input))
      expect(decodeAll(split(encoded, cuts), 1 << 20)).toEqual(expected)
    }), { numRuns })
  }, 60_000)

  it('encodes empty and multi-byte frames after the slack of earlier ones is used up', () => {
    const input = [' '.repeat(128), '', ' '.repeat(128), ' '.repeat(128), ' '.repeat(120), '\u0800'.repeat(7), '\u0800'.repeat(10), '', '']
    expect(new FrameEncoder().encode(input)).toEqual(reference(input))
  })

  it('counts UTF-8 bytes without encoding', () => {
    fc.assert(fc.property(fc.string({ unit: 'binary' }), fc.string({ unit: 'grapheme' }), (a, b) => {
      expect(FrameEncoder.byteLength(a)).toBe(utf8.encode(a).length)
      expect(FrameEncoder.byteLength(b)).toBe(utf8.encode(b).length)
    }), { numRuns })
  })

  it('writes minimal varints of the announced length', () => {
    fc.assert(fc.property(fc.integer({ min: 0, max: 0x7fff_ffff }), (n) => {
      const buf = new Uint8Array(5)
      const end = writeVarint(buf, 0, n)
      expect(end).toBe(varintLength(n))
      let value = 0
      for (let i = 0; i < end; i++) value += (buf[i]! & 0x7f) * 2 ** (7 * i)
      expect(value).toBe(n)
    }), { numRuns })
  })

  it('decoder fuzz: frame decoder — random bytes and mutated valid streams, any chunking: frames within the limit, FrameTooLargeError or InvalidFrameError only', () => {
    const tally = outcomeTally('frame decoder')
    const mutated = fc.tuple(texts, fc.array(fc.record({ at: fc.nat(), b: fc.integer({ min: 0, max: 255 }) }), { maxLength: 4 }), fc.nat())
      .map(([input, muts, cut]) => {
        const bytes = new FrameEncoder().encode(input).slice()
        for (const m of muts) if (bytes.length > 0) bytes[m.at % bytes.length] = m.b
        return bytes.subarray(0, bytes.length === 0 ? 0 : 1 + (cut % bytes.length))
      })
    fc.assert(fc.property(fc.oneof(fc.uint8Array({ maxLength: 2000 }), mutated), fc.integer({ min: 1, max: 8192 }), fc.array(fc.nat(), { maxLength: 10 }), (bytes, max, cuts) => {
      const decoder = new FrameDecoder(max)
      const outcome = typedOutcome('FrameDecoder.push', ['FrameTooLargeError', 'InvalidFrameError'], () => {
        for (const c of split(bytes, cuts)) decoder.push(c, (f) => { expect(f.length).toBeLessThanOrEqual(max) })
      })
      tally.add(outcome)
      // Once failed it stays failed: a broken stream is not resynchronised.
      if (outcome !== 'ok') expect(() => { decoder.push(Uint8Array.of(0), () => {}) }).toThrow(InvalidFrameError)
    }), { numRuns })
    tally.print()
  })

  it('refuses a huge length prefix as soon as it exceeds the limit, before any body arrives', () => {
    fc.assert(fc.property(fc.integer({ min: 1, max: 1 << 20 }), fc.integer({ min: 1, max: 2 ** 31 }), (max, extra) => {
      const announced = Math.min(max + extra, 2 ** 34)
      const prefix = new Uint8Array(5)
      const end = writeVarint(prefix, 0, announced)
      const decoder = new FrameDecoder(max)
      let error: unknown
      try { decoder.push(prefix.subarray(0, end), () => {}) } catch (err) { error = err }
      expect(error).toBeInstanceOf(FrameTooLargeError)
    }), { numRuns })
  })

  it('rejects non-minimal and over-long prefixes', () => {
    expect(() => { new FrameDecoder(100).push(Uint8Array.of(0x85, 0x00), () => {}) }).toThrow(/not minimally encoded/)
    expect(() => { new FrameDecoder(0x7fff_ffff).push(Uint8Array.of(0x80, 0x80, 0x80, 0x80, 0x80, 0x01), () => {}) }).toThrow(/longer than 5 bytes/)
  })

  it('passes a frame inside one chunk on without copying', () => {
    const bytes = reference(['{"a":1}', '{"b":2}'])
    const frames: Uint8Array[] = []
    new FrameDecoder(100).push(bytes, (f) => { frames.push(f) })
    expect(frames.map((f) => f.buffer)).toEqual([bytes.buffer, bytes.buffer])
  })
})
