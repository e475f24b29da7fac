/**
 * 32-bit MurmurHash3 of a string's UTF-16 code units (x86_32 variant over 16-bit units,
 * two per block). Used for the hash ring: fast, well mixed, and identical on every peer.
 */
export function murmur3 (text: string, seed = 0): number {
  let h = seed >>> 0
  const len = text.length
  let i = 0
  for (; i + 1 < len; i += 2) {
    let k = (text.charCodeAt(i) | (text.charCodeAt(i + 1) << 16)) >>> 0
    k = Math.imul(k, 0xcc9e2d51)
    k = (k << 15) | (k >>> 17)
    k = Math.imul(k, 0x1b873593)
    h ^= k
    h = (h << 13) | (h >>> 19)
    h = (Math.imul(h, 5) + 0xe6546b64) >>> 0
  }
  if (i < len) {
    let k = text.charCodeAt(i)
    k = Math.imul(k, 0xcc9e2d51)
    k = (k << 15) | (k >>> 17)
    k = Math.imul(k, 0x1b873593)
    h ^= k
  }
  h ^= len
  h ^= h >>> 16
  h = Math.imul(h, 0x85ebca6b)
  h ^= h >>> 13
  h = Math.imul(h, 0xc2b2ae35)
  h ^= h >>> 16
  return h >>> 0
}
