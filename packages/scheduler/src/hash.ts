/**
 * Small, portable, deterministic hashes (no Node APIs, no crypto: the state machine must give
 * the same answer on every replica and in browsers). Not for security: rendezvous tie-breaks
 * and content fingerprints of submissions.
 */

/** MurmurHash3 (x86, 32-bit) of a string's UTF-16 code units. */
export function murmur32 (s: string, seed = 0): number {
  let h = seed >>> 0
  const n = s.length
  let i = 0
  for (; i + 1 < n; i += 2) {
    let k = (s.charCodeAt(i) & 0xffff) | ((s.charCodeAt(i + 1) & 0xffff) << 16)
    k = Math.imul(k, 0xcc9e2d51)
    k = (k << 15) | (k >>> 17)
    k = Math.imul(k, 0x1b873593)
    h ^= k
    h = (h << 13) | (h >>> 19)
    h = (Math.imul(h, 5) + 0xe6546b64) | 0
  }
  if (i < n) {
    let k = s.charCodeAt(i) & 0xffff
    k = Math.imul(k, 0xcc9e2d51)
    k = (k << 15) | (k >>> 17)
    k = Math.imul(k, 0x1b873593)
    h ^= k
  }
  h ^= n
  h ^= h >>> 16
  h = Math.imul(h, 0x85ebca6b)
  h ^= h >>> 13
  h = Math.imul(h, 0xc2b2ae35)
  h ^= h >>> 16
  return h >>> 0
}

/** A 64-bit fingerprint as 16 hex digits (two independent 32-bit lanes). */
export function fingerprint (s: string): string {
  return murmur32(s, 0x9747b28c).toString(16).padStart(8, '0') + murmur32(s, 0x5bd1e995).toString(16).padStart(8, '0')
}

/**
 * Rendezvous (highest-random-weight) score of a peer for a task: every replica ranks peers the
 * same way, and removing a peer moves only the tasks it would have won.
 */
export function rendezvousScore (taskKey: string, peer: string): number {
  return murmur32(peer, murmur32(taskKey, 0x2545f491))
}

/**
 * Hamming distance between two capability sets, seen as bit vectors over their union: the number
 * of capabilities that one has and the other lacks (the size of the symmetric difference). The
 * seed compares two lists position by position (`zip`), which depends on their order and ignores
 * the longer list's tail; as sets the answer does not depend on order. Lower is a closer match.
 */
export function hammingDistance (peerCapabilities: Iterable<string>, taskRequirements: Iterable<string>): number {
  const a = new Set(peerCapabilities)
  const b = new Set(taskRequirements)
  let d = 0
  for (const x of a) if (!b.has(x)) d++
  for (const x of b) if (!a.has(x)) d++
  return d
}

/** UTF-8 byte length of a string without encoding it. */
export function utf8Length (s: string): number {
  let n = 0
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i)
    if (c < 0x80) n += 1
    else if (c < 0x800) n += 2
    else if (c >= 0xd800 && c <= 0xdbff && i + 1 < s.length) { n += 4; i++ } else n += 3
  }
  return n
}

/** Canonical JSON (object keys sorted): equal values give equal strings on every replica. */
export function canonicalJson (v: unknown): string {
  if (v === null || typeof v !== 'object') return JSON.stringify(v) ?? 'null'
  if (Array.isArray(v)) return '[' + v.map(canonicalJson).join(',') + ']'
  const o = v as Record<string, unknown>
  const keys = Object.keys(o).filter(k => o[k] !== undefined).sort()
  return '{' + keys.map(k => JSON.stringify(k) + ':' + canonicalJson(o[k])).join(',') + '}'
}
