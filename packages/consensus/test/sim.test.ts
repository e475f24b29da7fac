import { describe, expect, it } from 'vitest'
import { simulate } from '../src/sim/index.js'
import type { SimWorkload } from '../src/sim/index.js'
import type { Entry, StateMachine } from '../src/types.js'

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

describe('simulator with another state machine', () => {
  /** A counter: `add` returns the new total, `read` the current one. */
  class Counter implements StateMachine {
    total = 0
    apply (e: Entry): number {
      this.total += Number(new TextDecoder().decode(e.data))
      return this.total
    }

    snapshot (): Uint8Array { return new TextEncoder().encode(String(this.total)) }
    restore (data: Uint8Array): void { this.total = Number(new TextDecoder().decode(data)) }
  }
  type CounterOp = { op: 'add', n: number } | { op: 'read' }
  const counterWorkload = (violationsSeen: string[]): SimWorkload<CounterOp, number> => ({
    createStateMachine: () => new Counter(),
    nextOp: (_client, rng) => rng() < 0.3 ? { op: 'read' } : { op: 'add', n: 1 },
    isRead: input => input.op === 'read',
    encode: input => new TextEncoder().encode(String(input.op === 'add' ? input.n : 0)),
    read: sm => (sm as Counter).total,
    output: result => result as number,
    probe: () => ({ op: 'add', n: 0 }),
    check (history) {
      // Adds of 1 each return a distinct total; a read never exceeds the adds applied.
      const totals = history.filter(o => o.input.op === 'add' && o.output !== undefined).map(o => o.output!)
      const ok = new Set(totals).size === totals.length
      if (!ok) violationsSeen.push('duplicate totals')
      return { ok, violation: ok ? undefined : 'two acknowledged adds returned the same total' }
    }
  })

  it('runs any StateMachine through a workload and its check hook', () => {
    for (let seed = 1; seed <= 20; seed++) {
      const seen: string[] = []
      const r = simulate({ seed, nodes: 3, workload: counterWorkload(seen) })
      expect(r.violations, `seed ${seed}`).toEqual([])
      expect(r.stats.linearizability).toBe(true)
      expect(r.history.length).toBeGreaterThan(50)
    }
  })

  it('a check hook that fails is reported as a violation', () => {
    const r = simulate({ seed: 3, nodes: 3, workload: { ...counterWorkload([]), check: () => ({ ok: false, violation: 'deliberate' }) } })
    expect(r.ok).toBe(false)
    expect(r.violations.join()).toMatch(/deliberate/)
  })
})
