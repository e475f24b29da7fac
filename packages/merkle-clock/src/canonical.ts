/**
 * The canonical encoding of a vector clock: the DAG-CBOR array of `[id, counter]` pairs,
 * written directly (it is the same bytes `@ipld/dag-cbor` gives, checked by a property
 * test and by the Python golden vectors) because the generic encoder was the slowest step of
 * `hash()`.
 */
const encoder = new TextEncoder()

/** Writes a CBOR head (major type + shortest argument) at `at`; returns the new offset. */
function head (out: Uint8Array, at: number, major: number, n: number): number {
  const m = major << 5
  if (n < 24) {
    out[at] = m | n
    return at + 1
  }
  if (n < 0x100) {
    out[at] = m | 24
    out[at + 1] = n
    return at + 2
  }
  if (n < 0x10000) {
    out[at] = m | 25
    out[at + 1] = n >>> 8
    out[at + 2] = n & 0xFF
    return at + 3
  }
  if (n < 0x100000000) {
    out[at] = m | 26
    new DataView(out.buffer, out.byteOffset).setUint32(at + 1, n)
    return at + 5
  }
  out[at] = m | 27
  new DataView(out.buffer, out.byteOffset).setBigUint64(at + 1, BigInt(n))
  return at + 9
}

/** DAG-CBOR bytes of `[[id, n], ...]` for the given pairs, in the given order. */
export function encodeCanonicalPairs (pairs: ReadonlyArray<readonly [string, number]>): Uint8Array {
  // Upper bound: 3 UTF-8 bytes per UTF-16 unit, 9-byte heads.
  let size = 9
  for (const [id] of pairs) size += 1 + 9 + id.length * 3 + 9
  const out = new Uint8Array(size)
  let at = head(out, 0, 4, pairs.length)
  for (const [id, n] of pairs) {
    out[at++] = 0x82
    // Reserve the longest text head the bound allows, then move the bytes if it was shorter.
    const max = id.length * 3
    const reserve = max < 24 ? 1 : max < 0x100 ? 2 : max < 0x10000 ? 3 : 5
    const { written } = encoder.encodeInto(id, out.subarray(at + reserve))
    const start = head(out, at, 3, written)
    if (start !== at + reserve) out.copyWithin(start, at + reserve, at + reserve + written)
    at = head(out, start + written, 0, n)
  }
  return out.subarray(0, at)
}
