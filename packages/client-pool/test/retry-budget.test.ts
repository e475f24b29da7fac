import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { PeakEwma, RetryBudget } from '../src/index.js'

const NUM_RUNS = Number(process.env.FC_NUM_RUNS ?? 100)

describe('RetryBudget', () => {
  it('allows percent of the calls, then refuses', () => {
    let now = 0
    const budget = new RetryBudget(20, 0, 10_000, () => now)
    for (let i = 0; i < 100; i++) budget.recordCall()
    let granted = 0
    while (budget.tryWithdraw()) granted++
    expect(granted).toBe(20)
    now += 500
    expect(budget.tryWithdraw()).toBe(false)
  })

  it('adds minPerSecond × window on top', () => {
    const budget = new RetryBudget(20, 1, 10_000, () => 0)
    let granted = 0
    while (budget.tryWithdraw()) granted++
    expect(granted).toBe(10)
  })

  it('forgets calls and retries older than the window', () => {
    let now = 0
    const budget = new RetryBudget(50, 0, 1_000, () => now)
    for (let i = 0; i < 10; i++) budget.recordCall()
    let granted = 0
    while (budget.tryWithdraw()) granted++
    expect(granted).toBe(5)
    now = 1_100
    expect(budget.tryWithdraw()).toBe(false)
    budget.recordCall()
    budget.recordCall()
    expect(budget.tryWithdraw()).toBe(true)
    expect(budget.tryWithdraw()).toBe(false)
  })

  it('never grants more than percent × calls + reserve within any window (property)', () => {
    fc.assert(fc.property(
      fc.array(fc.record({ dt: fc.integer({ min: 0, max: 400 }), op: fc.constantFrom('call', 'retry') }), { maxLength: 300 }),
      fc.integer({ min: 0, max: 100 }),
      (ops, percent) => {
        let now = 0
        const budget = new RetryBudget(percent, 0, 1_000, () => now)
        const events: Array<{ t: number, kind: 'call' | 'retry' }> = []
        for (const { dt, op } of ops) {
          now += dt
          if (op === 'call') { budget.recordCall(); events.push({ t: now, kind: 'call' }); continue }
          if (!budget.tryWithdraw()) continue
          events.push({ t: now, kind: 'retry' })
          // When a retry is granted, the retries of the last window (less one bucket of slack)
          // stay within the budget earned by the calls of the last window.
          const from = now - 1_000 + 100
          const calls = events.filter((e) => e.kind === 'call' && e.t >= now - 1_000).length
          const retries = events.filter((e) => e.kind === 'retry' && e.t >= from).length
          expect(retries).toBeLessThanOrEqual(Math.floor(calls * percent / 100))
        }
      }), { numRuns: NUM_RUNS })
  })
})

describe('PeakEwma', () => {
  it('jumps to a higher sample at once and comes down slowly', () => {
    const ewma = new PeakEwma(10_000)
    ewma.observe(1, 0)
    ewma.observe(100, 1)
    expect(ewma.value(1)).toBe(100)
    ewma.observe(1, 2)
    expect(ewma.value(2)).toBeGreaterThan(99)
    ewma.observe(1, 10_002)
    expect(ewma.value(10_002)).toBeLessThan(40)
  })

  it('decays towards zero while idle', () => {
    const ewma = new PeakEwma(1_000)
    ewma.observe(50, 0)
    expect(ewma.value(0)).toBe(50)
    expect(ewma.value(1_000)).toBeCloseTo(50 / Math.E, 5)
    expect(ewma.value(10_000)).toBeLessThan(0.01)
  })
})
