import { describe, expect, it } from 'vitest'
import { simulate } from '../src/sim/simulate.js'

// SIM_SEEDS raises the count; the long run is scripts/seeds.ts.
const SEEDS = Number(process.env.SIM_SEEDS ?? 200)
const FIRST = Number(process.env.SIM_FIRST_SEED ?? 1)

describe('simulator', () => {
  it(`${SEEDS} random seeds keep every invariant, stay live after healing and give linearizable histories`, () => {
    const failures: string[] = []
    const totals = { elections: 0, leaderChanges: 0, partitions: 0, crashes: 0, snapshotsInstalled: 0, membershipChanges: 0, unknownOutcomes: 0, opsOk: 0 }
    for (let seed = FIRST; seed < FIRST + SEEDS; seed++) {
      const r = simulate({ seed })
      if (!r.ok) failures.push(`seed ${seed}: ${r.violations.join('; ')}`)
      expect(r.stats.linearizability).toBe(true)
      for (const k of Object.keys(totals) as Array<keyof typeof totals>) totals[k] += r.stats[k]
    }
    expect(failures).toEqual([])
    // Coverage: the runs must actually exercise the faults they claim to.
    expect(totals.elections).toBeGreaterThan(SEEDS)
    expect(totals.partitions).toBeGreaterThan(SEEDS)
    expect(totals.crashes).toBeGreaterThan(SEEDS)
    expect(totals.snapshotsInstalled).toBeGreaterThan(SEEDS / 2)
    expect(totals.membershipChanges).toBeGreaterThan(SEEDS / 2)
    expect(totals.unknownOutcomes).toBeGreaterThan(SEEDS)
  }, 120_000)

  it('other core configurations keep the invariants too (no PreVote/CheckQuorum; lease reads under ±30% skew)', () => {
    for (const core of [{ preVote: false, checkQuorum: false }, { readOnly: 'lease' as const }]) {
      for (let seed = 1000; seed < 1020; seed++) expect(simulate({ seed, core }).violations, `${JSON.stringify(core)} seed ${seed}`).toEqual([])
    }
  }, 60_000)

  it('the same seed gives the same trace', () => {
    const a = simulate({ seed: 42, trace: true })
    const b = simulate({ seed: 42, trace: true })
    expect(a.traceHash).toBe(b.traceHash)
    expect(a.trace).toEqual(b.trace)
    expect(a.history).toEqual(b.history)
    expect(simulate({ seed: 43 }).traceHash).not.toBe(a.traceHash)
    // The figure8 profile's leader-following faults replay too.
    const f = simulate({ seed: 42, profile: 'figure8' })
    expect(simulate({ seed: 42, profile: 'figure8' }).traceHash).toBe(f.traceHash)
    expect(f.stats.profile).toBe('figure8')
  })

  it('each seed runs enough operations and faults to matter', () => {
    for (let seed = 1; seed <= 10; seed++) {
      const r = simulate({ seed })
      // The churn profiles (leader-churn, figure8) time out more operations: those are
      // unknown outcomes, which the checker handles, so answered operations can fall to ~100.
      expect(r.stats.opsOk).toBeGreaterThanOrEqual(100)
      expect(r.stats.opsOk + r.stats.unknownOutcomes).toBeGreaterThanOrEqual(200)
      expect(r.stats.partitions + r.stats.crashes).toBeGreaterThanOrEqual(2)
      expect(r.stats.elections).toBeGreaterThanOrEqual(1)
    }
  })

  it('without faults every operation succeeds and one leader serves the whole run', () => {
    const r = simulate({ seed: 7, faults: 'none' })
    expect(r.ok).toBe(true)
    expect(r.stats.unknownOutcomes).toBe(0)
    expect(r.stats.leaderChanges).toBe(1)
    expect(r.stats.opsOk).toBeGreaterThanOrEqual(290)
  })
})
