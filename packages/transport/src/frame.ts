import { FrameTooLargeError, InvalidFrameError } from './errors.js'

/** Bytes of the unsigned varint (LEB128) that encodes `n`. */
export function varintLength (n: number): number {
  if (n < 0x80) return 1
  if (n < 0x4000) return 2
  if (n < 0x20_0000) return 3
  if (n < 0x1000_0000) return 4
  return 5
}

/** Writes `n` as an unsigned varint at `offset`; returns the offset after it. */
export function writeVarint (buf: Uint8Array, offset: number, n: number): number {
  while (n >= 0x80) {
    buf[offset++] = (n & 0x7f) | 0x80
    n = Math.floor(n / 128)
  }
  buf[offset++] = n
  return offset
}

/**
 * Encodes many strings into one buffer of length-prefixed UTF-8 frames, with one
 * allocation per batch: each string is encoded in place right after a prefix sized for
 * its ASCII length, and moved only when the UTF-8 length needs a longer prefix.
 */
export class FrameEncoder {
  readonly #utf8 = new TextEncoder()

  /** Encodes `frames` (JSON texts) in order; returns the bytes to send. */
  encode (frames: readonly string[]): Uint8Array {
    let capacity = 0
    for (const s of frames) capacity += s.length + 5
    let buf = new Uint8Array(capacity)
    let offset = 0
    // Non-ASCII text ran out of room: grow to the UTF-8 worst case of what is left (once).
    const grow = (from: number): void => {
      let rest = 0
      for (let j = from; j < frames.length; j++) rest += frames[j]!.length * 3 + 5
      if (buf.length >= offset + rest) return
      const grown = new Uint8Array(offset + rest)
      grown.set(buf.subarray(0, offset))
      buf = grown
    }
    for (let i = 0; i < frames.length; i++) {
      const text = frames[i]!
      const guess = varintLength(text.length)
      if (offset + guess + text.length > buf.length) grow(i)
      const first = this.#utf8.encodeInto(text, buf.subarray(offset + guess))
      let written = first.written
      if (first.read < text.length) {
        grow(i)
        written = this.#utf8.encodeInto(text, buf.subarray(offset + guess)).written
      }
      const prefix = varintLength(written)
      if (prefix !== guess) buf.copyWithin(offset + prefix, offset + guess, offset + guess + written)
      offset = writeVarint(buf, offset, written) + written
    }
    return offset === buf.length ? buf : buf.subarray(0, offset)
  }

  /** UTF-8 length of `text`, counted without allocating. */
  static byteLength (text: string): number {
    let n = text.length
    for (let i = 0; i < text.length; i++) {
      const c = text.charCodeAt(i)
      if (c < 0x80) continue
      if (c < 0x800) n += 1
      else if (c >= 0xd800 && c <= 0xdbff && i + 1 < text.length) {
        const d = text.charCodeAt(i + 1)
        if (d >= 0xdc00 && d <= 0xdfff) { n += 2; i++ } else n += 2
      } else n += 2
    }
    return n
  }
}

/**
 * Splits a byte stream into frames: an unsigned varint (minimal, at most 5 bytes) giving
 * the length, then that many bytes. A frame that lies within one chunk is passed on as
 * a view of that chunk (no copy); one spread over chunks is assembled once.
 */
export class FrameDecoder {
  readonly #maxFrameBytes: number
  #length = 0 // value of the prefix read so far
  #shift = 0 // bits of the prefix read so far
  #prefixBytes = 0
  #body: Uint8Array | undefined // a frame being assembled across chunks
  #filled = 0
  #failed = false

  constructor (maxFrameBytes: number) {
    this.#maxFrameBytes = maxFrameBytes
  }

  /**
   * Feeds one chunk; calls `onFrame` for every frame it completes. Throws
   * `FrameTooLargeError` or `InvalidFrameError` (and stays failed) on a broken stream.
   */
  push (chunk: Uint8Array, onFrame: (frame: Uint8Array) => void): void {
    if (this.#failed) throw new InvalidFrameError('the frame decoder already failed; the stream cannot be resynchronised')
    let i = 0
    const end = chunk.length
    while (i < end) {
      const body = this.#body
      if (body !== undefined) {
        const take = Math.min(body.length - this.#filled, end - i)
        body.set(chunk.subarray(i, i + take), this.#filled)
        this.#filled += take
        i += take
        if (this.#filled === body.length) {
          this.#body = undefined
          onFrame(body)
        }
        continue
      }
      const byte = chunk[i++]!
      this.#prefixBytes++
      this.#length += (byte & 0x7f) * 2 ** this.#shift
      this.#shift += 7
      if (this.#length > this.#maxFrameBytes) {
        this.#failed = true
        throw new FrameTooLargeError(this.#length, this.#maxFrameBytes, 'received')
      }
      if ((byte & 0x80) !== 0) {
        if (this.#prefixBytes === 5) {
          this.#failed = true
          throw new InvalidFrameError('frame length prefix is longer than 5 bytes')
        }
        continue
      }
      if (byte === 0 && this.#prefixBytes > 1) {
        this.#failed = true
        throw new InvalidFrameError('frame length prefix is not minimally encoded (trailing 0x00 byte)')
      }
      const length = this.#length
      this.#length = 0
      this.#shift = 0
      this.#prefixBytes = 0
      if (end - i >= length) {
        onFrame(chunk.subarray(i, i + length))
        i += length
      } else {
        this.#body = new Uint8Array(length)
        this.#filled = 0
      }
    }
  }

  /** Bytes of an unfinished frame (prefix or body) held back: non-zero at end of stream means truncation. */
  get pendingBytes (): number {
    return this.#body !== undefined ? this.#filled + 1 : this.#prefixBytes
  }
}
