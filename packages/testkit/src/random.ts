/**
 * mulberry32: a small seeded PRNG for tests and benchmarks, so that a run (a topology, a
 * workload, a benchmark's input) replays exactly from its seed. Returns floats in [0, 1).
 * Not for production code: the consensus core has its own, part of its deterministic state.
 */
export function mulberry32 (seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6D2B79F5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}
