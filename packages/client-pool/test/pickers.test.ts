import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { leastRequestPicker, peakEwmaPicker, ringHashPicker, roundRobinPicker, weightedRoundRobinPicker } from '../src/index.js'
import type { EndpointLoad, PickContext, Picker } from '../src/index.js'
import { mulberry32 } from '@p2p-mcp/testkit/random'

const NUM_RUNS = Number(process.env.FC_NUM_RUNS ?? 100)

interface Fake extends EndpointLoad { inFlight: number, latency: number }

function fake (id: string, init: { weight?: number, inFlight?: number, latency?: number } = {}): Fake {
  const e: Fake = {
    id,
    weight: init.weight ?? 1,
    labels: {},
    inFlight: init.inFlight ?? 0,
    latency: init.latency ?? 0,
    latencyMs: () => e.latency,
  }
  return e
}


function tally (picker: Picker, candidates: EndpointLoad[], n: number, ctx: PickContext): Map<string, number> {
  const counts = new Map<string, number>()
  for (let i = 0; i < n; i++) {
    const e = picker.pick(candidates, ctx)
    if (e === undefined) throw new Error('no pick')
    counts.set(e.id, (counts.get(e.id) ?? 0) + 1)
  }
  return counts
}

describe('round-robin', () => {
  it('is exactly even', () => {
    const eps = ['a', 'b', 'c'].map((id) => fake(id))
    const counts = tally(roundRobinPicker(), eps, 3000, { key: undefined, random: mulberry32(1) })
    expect([...counts.values()]).toEqual([1000, 1000, 1000])
  })

  it('stays even while the candidate set shrinks and grows', () => {
    const picker = roundRobinPicker()
    const eps = ['a', 'b', 'c', 'd'].map((id) => fake(id))
    const ctx = { key: undefined, random: mulberry32(2) }
    const counts = tally(picker, eps.slice(0, 3), 300, ctx)
    for (const [id, n] of tally(picker, eps, 400, ctx)) counts.set(id, (counts.get(id) ?? 0) + n)
    expect(counts.get('d')).toBe(100)
    expect(counts.get('a')).toBe(200)
  })

  it('returns undefined with no candidates', () => {
    expect(roundRobinPicker().pick([], { key: undefined, random: Math.random })).toBeUndefined()
  })
})

describe('weighted round-robin', () => {
  it('picks in proportion to weight, spread out', () => {
    const eps = [fake('a', { weight: 5 }), fake('b', { weight: 3 }), fake('c', { weight: 1 })]
    const picker = weightedRoundRobinPicker()
    const ctx = { key: undefined, random: mulberry32(3) }
    const seq = Array.from({ length: 9 }, () => picker.pick(eps, ctx)!.id)
    expect(seq.filter((x) => x === 'a')).toHaveLength(5)
    expect(seq.filter((x) => x === 'b')).toHaveLength(3)
    // Smooth: the heavy endpoint never takes more than two picks in a row here.
    expect(seq.join('')).not.toContain('aaa')
    const counts = tally(picker, eps, 9000, ctx)
    expect(counts.get('a')).toBe(5000)
    expect(counts.get('b')).toBe(3000)
    expect(counts.get('c')).toBe(1000)
  })

  it('keeps proportions within 1% for random weights', () => {
    fc.assert(fc.property(fc.array(fc.integer({ min: 1, max: 20 }), { minLength: 1, maxLength: 8 }), (weights) => {
      const eps = weights.map((w, i) => fake(`e${i}`, { weight: w }))
      const total = weights.reduce((s, w) => s + w, 0)
      const rounds = 50
      const counts = tally(weightedRoundRobinPicker(), eps, total * rounds, { key: undefined, random: Math.random })
      for (const [i, w] of weights.entries()) {
        expect(Math.abs((counts.get(`e${i}`) ?? 0) - w * rounds)).toBeLessThanOrEqual(total * rounds * 0.01 + 1)
      }
    }), { numRuns: NUM_RUNS })
  })
})

describe('least-request', () => {
  it('prefers the less loaded endpoint', () => {
    const eps = [fake('a', { inFlight: 10 }), fake('b', { inFlight: 0 }), fake('c', { inFlight: 10 })]
    const counts = tally(leastRequestPicker(), eps, 3000, { key: undefined, random: mulberry32(4) })
    // Power of two choices: b wins every pair it is in, 2/3 of the pairs.
    expect(counts.get('b')! / 3000).toBeGreaterThan(0.6)
  })

  it('scales load by weight', () => {
    const eps = [fake('a', { weight: 4, inFlight: 4 }), fake('b', { weight: 1, inFlight: 2 })]
    const counts = tally(leastRequestPicker(), eps, 100, { key: undefined, random: mulberry32(5) })
    expect(counts.get('a')).toBe(100)
  })
})

describe('peak-ewma', () => {
  it('prefers the faster endpoint at equal load', () => {
    const eps = [fake('a', { latency: 10 }), fake('b', { latency: 1 }), fake('c', { latency: 10 })]
    const counts = tally(peakEwmaPicker(), eps, 3000, { key: undefined, random: mulberry32(6) })
    expect(counts.get('b')! / 3000).toBeGreaterThan(0.6)
  })

  it('prefers the less loaded endpoint at equal latency', () => {
    const eps = [fake('a', { latency: 5, inFlight: 8 }), fake('b', { latency: 5, inFlight: 0 })]
    const counts = tally(peakEwmaPicker(), eps, 100, { key: undefined, random: mulberry32(7) })
    expect(counts.get('b')).toBe(100)
  })

  it('weighs latency by load: a fast busy endpoint loses to a slower idle one', () => {
    const eps = [fake('fast', { latency: 1, inFlight: 30 }), fake('slow', { latency: 10, inFlight: 0 })]
    expect(peakEwmaPicker().pick(eps, { key: undefined, random: mulberry32(8) })!.id).toBe('slow')
  })

  it('tries a cold endpoint while idle, not while it has calls in flight', () => {
    const warm = fake('warm', { latency: 5 })
    const cold = fake('cold')
    const picker = peakEwmaPicker()
    expect(picker.pick([warm, cold], { key: undefined, random: mulberry32(9) })!.id).toBe('cold')
    cold.inFlight = 1
    expect(picker.pick([warm, cold], { key: undefined, random: mulberry32(9) })!.id).toBe('warm')
  })
})

describe('ring-hash', () => {
  const keys = Array.from({ length: 10_000 }, (_, i) => `project-${i}`)

  function owners (picker: Picker, eps: EndpointLoad[]): Map<string, string> {
    const out = new Map<string, string>()
    for (const key of keys) out.set(key, picker.pick(eps, { key, random: Math.random })!.id)
    return out
  }

  it('maps the same key to the same endpoint, whoever builds the ring', () => {
    fc.assert(fc.property(fc.string(), fc.uniqueArray(fc.string({ minLength: 1, maxLength: 12 }), { minLength: 1, maxLength: 8 }), (key, ids) => {
      const eps = ids.map((id) => fake(id))
      const p1 = ringHashPicker()
      const p2 = ringHashPicker()
      p1.update!(eps)
      p2.update!([...eps].reverse())
      const first = p1.pick(eps, { key, random: Math.random })!.id
      expect(p1.pick(eps, { key, random: Math.random })!.id).toBe(first)
      expect(p2.pick(eps, { key, random: Math.random })!.id).toBe(first)
    }), { numRuns: NUM_RUNS })
  })

  it('moves about 1/N of the keys, all to the new endpoint, when one is added', () => {
    const four = ['a', 'b', 'c', 'd'].map((id) => fake(id))
    const five = [...four, fake('e')]
    const picker = ringHashPicker()
    picker.update!(four)
    const before = owners(picker, four)
    picker.update!(five)
    const after = owners(picker, five)
    let moved = 0
    for (const key of keys) {
      if (before.get(key) !== after.get(key)) {
        moved++
        expect(after.get(key)).toBe('e')
      }
    }
    // Ideal 1/5 = 20%.
    expect(moved / keys.length).toBeGreaterThan(0.13)
    expect(moved / keys.length).toBeLessThan(0.27)
  })

  it('spreads keys evenly (each of 4 endpoints owns 25% ± 6%)', () => {
    const eps = ['a', 'b', 'c', 'd'].map((id) => fake(id))
    const picker = ringHashPicker()
    picker.update!(eps)
    const counts = new Map<string, number>()
    for (const owner of owners(picker, eps).values()) counts.set(owner, (counts.get(owner) ?? 0) + 1)
    for (const n of counts.values()) expect(Math.abs(n / keys.length - 0.25)).toBeLessThan(0.06)
  })

  it('sends an ineligible endpoint\'s keys elsewhere and nobody else\'s, and takes them back', () => {
    const eps = ['a', 'b', 'c'].map((id) => fake(id))
    const picker = ringHashPicker()
    picker.update!(eps)
    const before = owners(picker, eps)
    const without = owners(picker, eps.filter((e) => e.id !== 'b'))
    for (const key of keys) {
      if (before.get(key) === 'b') expect(without.get(key)).not.toBe('b')
      else expect(without.get(key)).toBe(before.get(key))
    }
    expect(owners(picker, eps)).toEqual(before)
  })

  it('weights ownership', () => {
    const eps = [fake('a', { weight: 3 }), fake('b', { weight: 1 })]
    const picker = ringHashPicker()
    picker.update!(eps)
    let a = 0
    for (const owner of owners(picker, eps).values()) if (owner === 'a') a++
    expect(a / keys.length).toBeGreaterThan(0.65)
    expect(a / keys.length).toBeLessThan(0.85)
  })
})
