import { DecodeError } from '../errors.js'

const enc = new TextEncoder()
const dec = new TextDecoder('utf-8', { fatal: true })

/** A growable byte buffer with unsigned LEB128 varints (integers up to 2^53), strings and byte strings. */
export class BinaryWriter {
  private buf: Uint8Array
  private view: DataView
  length = 0

  constructor (capacity = 256) {
    this.buf = new Uint8Array(capacity)
    this.view = new DataView(this.buf.buffer)
  }

  private ensure (n: number): void {
    if (this.length + n <= this.buf.byteLength) return
    let cap = this.buf.byteLength * 2
    while (cap < this.length + n) cap *= 2
    const next = new Uint8Array(cap)
    next.set(this.buf.subarray(0, this.length))
    this.buf = next
    this.view = new DataView(next.buffer)
  }

  u8 (v: number): this {
    this.ensure(1)
    this.buf[this.length++] = v
    return this
  }

  u32 (v: number): this {
    this.ensure(4)
    this.view.setUint32(this.length, v, true)
    this.length += 4
    return this
  }

  /** A non-negative integer ≤ 2^53 - 1 as an unsigned LEB128 varint. */
  uvarint (v: number): this {
    this.ensure(8)
    while (v >= 0x80) {
      this.buf[this.length++] = (v % 0x80) | 0x80
      v = Math.floor(v / 0x80)
    }
    this.buf[this.length++] = v
    return this
  }

  bytes (b: Uint8Array): this {
    this.uvarint(b.byteLength)
    this.ensure(b.byteLength)
    this.buf.set(b, this.length)
    this.length += b.byteLength
    return this
  }

  raw (b: Uint8Array): this {
    this.ensure(b.byteLength)
    this.buf.set(b, this.length)
    this.length += b.byteLength
    return this
  }

  string (s: string): this { return this.bytes(enc.encode(s)) }

  /** The bytes written so far (a view, valid until the next write). */
  view8 (): Uint8Array { return this.buf.subarray(0, this.length) }

  /** A copy of the bytes written so far. */
  finish (): Uint8Array { return this.buf.slice(0, this.length) }

  /** Overwrites a u32 at `offset` (for headers written after their payload). */
  setU32 (offset: number, v: number): void { this.view.setUint32(offset, v, true) }
}

/** A bounds-checked reader: every read past the end or out of range throws DecodeError naming the offset. */
export class BinaryReader {
  readonly buf: Uint8Array
  private readonly view: DataView
  offset: number
  private readonly end: number
  private readonly what: string

  constructor (buf: Uint8Array, what: string, start = 0, end = buf.byteLength) {
    this.buf = buf
    this.view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength)
    this.offset = start
    this.end = end
    this.what = what
  }

  get remaining (): number { return this.end - this.offset }

  fail (reason: string): never {
    throw new DecodeError(this.what, this.offset, reason)
  }

  private need (n: number): void {
    if (this.offset + n > this.end) this.fail(`needs ${n} more bytes, ${this.end - this.offset} left`)
  }

  u8 (): number {
    this.need(1)
    return this.buf[this.offset++]!
  }

  u32 (): number {
    this.need(4)
    const v = this.view.getUint32(this.offset, true)
    this.offset += 4
    return v
  }

  uvarint (): number {
    let v = 0
    let mul = 1
    for (let i = 0; i < 8; i++) {
      const b = this.u8()
      v += (b & 0x7f) * mul
      if (b < 0x80) {
        if (v > Number.MAX_SAFE_INTEGER) this.fail(`integer ${v} exceeds 2^53 - 1`)
        if (i > 0 && b === 0) this.fail('non-minimal varint')
        return v
      }
      mul *= 0x80
    }
    return this.fail('varint longer than 8 bytes')
  }

  /** A length-prefixed byte string of at most `max` bytes (a view into the input). */
  bytes (max: number): Uint8Array {
    const n = this.uvarint()
    if (n > max) this.fail(`byte string of ${n} bytes exceeds the limit ${max}`)
    this.need(n)
    const b = this.buf.subarray(this.offset, this.offset + n)
    this.offset += n
    return b
  }

  string (max: number): string {
    const b = this.bytes(max)
    try {
      return dec.decode(b)
    } catch {
      return this.fail('invalid UTF-8 in a string')
    }
  }

  /** Fails unless everything was consumed. */
  done (): void {
    if (this.offset !== this.end) this.fail(`${this.end - this.offset} trailing bytes`)
  }
}
