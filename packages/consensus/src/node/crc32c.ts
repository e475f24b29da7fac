/** CRC-32C (Castagnoli, reflected polynomial 0x82F63B78), as in iSCSI, ext4 and etcd's WAL. */
const TABLE = ((): Uint32Array => {
  const t = new Uint32Array(256 * 8)
  for (let i = 0; i < 256; i++) {
    let c = i
    for (let k = 0; k < 8; k++) c = (c & 1) !== 0 ? (c >>> 1) ^ 0x82f63b78 : c >>> 1
    t[i] = c >>> 0
  }
  // Slicing-by-8 tables.
  for (let i = 0; i < 256; i++) {
    let c = t[i]!
    for (let s = 1; s < 8; s++) {
      c = (c >>> 8) ^ t[c & 0xff]!
      t[s * 256 + i] = c >>> 0
    }
  }
  return t
})()

export function crc32c (data: Uint8Array, start = 0, end = data.byteLength, seed = 0): number {
  let c = ~seed >>> 0
  let i = start
  const t = TABLE
  for (; i + 8 <= end; i += 8) {
    const a = (c ^ (data[i]! | (data[i + 1]! << 8) | (data[i + 2]! << 16) | (data[i + 3]! << 24))) >>> 0
    c = t[7 * 256 + (a & 0xff)]! ^ t[6 * 256 + ((a >>> 8) & 0xff)]! ^ t[5 * 256 + ((a >>> 16) & 0xff)]! ^ t[4 * 256 + (a >>> 24)]! ^
      t[3 * 256 + data[i + 4]!]! ^ t[2 * 256 + data[i + 5]!]! ^ t[256 + data[i + 6]!]! ^ t[data[i + 7]!]!
  }
  for (; i < end; i++) c = (c >>> 8) ^ t[(c ^ data[i]!) & 0xff]!
  return ~c >>> 0
}
