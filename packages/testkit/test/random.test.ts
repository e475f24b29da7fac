import { describe, expect, it } from 'vitest'
import { mulberry32 } from '../src/random.js'

describe('mulberry32', () => {
  it('replays the same sequence from the same seed, in [0, 1)', () => {
    const a = mulberry32(42)
    const b = mulberry32(42)
    const xs = Array.from({ length: 1000 }, () => a())
    expect(Array.from({ length: 1000 }, () => b())).toEqual(xs)
    expect(xs.every((x) => x >= 0 && x < 1)).toBe(true)
    expect(new Set(xs).size).toBe(1000)
  })

  it('gives the reference values of mulberry32 (seed 1)', () => {
    const r = mulberry32(1)
    expect([r(), r(), r()].map((x) => Math.floor(x * 4294967296))).toEqual([2693262067, 11749833, 2265367787])
  })
})
