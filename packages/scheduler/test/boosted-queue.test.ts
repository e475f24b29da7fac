import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { BoostedQueue, starvationBoundIntervals } from '../src/index.js'

const NUM_RUNS = Number(process.env.FC_NUM_RUNS ?? 100)
const SEED = process.env.FC_SEED !== undefined ? Number(process.env.FC_SEED) : Date.now() % 2 ** 31
// Printed so that a failing run can be replayed with FC_SEED.
console.log(`boosted-queue properties: FC_SEED=${SEED} FC_NUM_RUNS=${NUM_RUNS}`)
const params = { numRuns: NUM_RUNS, seed: SEED }

describe('BoostedQueue', () => {
  it('hands out lower priority values first, ties in arrival order, when nothing waited', () => {
    fc.assert(fc.property(fc.array(fc.integer({ min: 0, max: 1000 }), { maxLength: 200 }), prios => {
      const q = new BoostedQueue<number>()
      prios.forEach((p, i) => q.insert(i, p, 0))
      q.boost(0)
      const out: number[] = []
      for (let x = q.pop(); x !== undefined; x = q.pop()) out.push(x)
      const expected = prios.map((p, i) => [p, i] as const).sort((a, b) => a[0] - b[0] || a[1] - b[1]).map(x => x[1])
      expect(out).toEqual(expected)
    }), params)
  })

  it('starvation bound: a low-priority task under a steady stream of high-priority ones runs before any that arrived K intervals after it', () => {
    fc.assert(fc.property(
      fc.integer({ min: 1, max: 1000 }), // low priority
      fc.integer({ min: 0, max: 999 }), // high priority
      fc.double({ min: 0.5, max: 0.95, noNaN: true }), // boost factor
      fc.integer({ min: 1, max: 3 }), // high arrivals per step (the queue only grows)
      fc.integer({ min: 0, max: 30 }), // backlog before the low one arrives
      (low, high0, factor, perStep, backlog) => {
        const high = Math.min(high0, low - 1)
        const interval = 100
        const dt = 25
        const q = new BoostedQueue<{ low: boolean, at: number }>({ priorityBoostFactor: factor, boostIntervalMs: interval })
        for (let i = 0; i < backlog; i++) q.insert({ low: false, at: 0 }, high, 0)
        q.insert({ low: true, at: 0 }, low, 0)
        const K = starvationBoundIntervals(low, high, factor)
        const deadline = K * interval
        let now = 0
        for (let step = 0; step < 100_000; step++) {
          now += dt
          for (let i = 0; i < perStep; i++) q.insert({ low: false, at: now }, high, now)
          q.boost(now)
          const x = q.pop()!
          if (x.low) {
            // Everything served before it arrived before the bound.
            return true
          }
          expect(x.at).toBeLessThan(deadline)
        }
        throw new Error('the low-priority task never ran')
      }), params)
  }, 120_000)

  it('starvationBoundIntervals matches the seed\'s defaults: priority 1000 under priority 0 waits at most 67 intervals', () => {
    expect(starvationBoundIntervals(1000, 0, 0.9)).toBe(67)
    expect(starvationBoundIntervals(5, 5, 0.9)).toBe(1)
  })

  it('refuses factors outside (0, 1) and non-positive intervals', () => {
    expect(() => new BoostedQueue({ priorityBoostFactor: 1 })).toThrow(/priorityBoostFactor/)
    expect(() => new BoostedQueue({ boostIntervalMs: 0 })).toThrow(/boostIntervalMs/)
  })

  it('deletes by handle', () => {
    const q = new BoostedQueue<string>()
    const a = q.insert('a', 1, 0)
    q.insert('b', 2, 0)
    expect(q.delete(a)).toBe(true)
    expect(q.delete(a)).toBe(false)
    expect(q.pop()).toBe('b')
  })
})
