import { simulate } from '@p2p-mcp/consensus/sim'
import { describe, expect, it } from 'vitest'
import { runSchedulerSeed, SchedulerSim } from './support/sim-workload.js'
import { runSeedOwnerRule } from './support/seed-owner-rule.js'

// A sample of the 1,000-seed run (scripts/seeds.ts): each seed replicates the scheduler on 5
// simulated Raft nodes under crashes, partitions, loss, duplication and membership churn, with
// 3-5 executors that crash, restart and rejoin, and a 300-task workflow. SIM_SEEDS raises the count.
const SEEDS = Number(process.env.SIM_SEEDS ?? 4)
const FIRST = Number(process.env.SIM_FROM ?? 1)

describe('scheduler under the consensus simulator', () => {
  for (let seed = FIRST; seed < FIRST + SEEDS; seed++) {
    it(`seed ${seed}: no task lost or completed twice, no epoch executed twice, no stale completion, executor views equal the log`, () => {
      const r = runSchedulerSeed(seed, simulate)
      const s = r.scheduler
      expect(r.raftViolations).toEqual([])
      expect(s.violations).toEqual([])
      expect(s).toMatchObject({ lost: 0, completedTwice: 0, sameEpochExecutions: 0, staleAccepted: 0, viewMismatches: 0, replicaDivergences: 0, finalState: 'completed' })
      expect(s.completed).toBe(s.tasks)
      expect(s.replicaComparisons).toBeGreaterThan(0)
    }, 120_000)
  }

  it('the seed\'s owner rule on the same seeds disagrees about owners, loses tasks and runs some twice', () => {
    let agreed = 0, tasks = 0, lost = 0, dup = 0
    for (let seed = FIRST; seed < FIRST + SEEDS; seed++) {
      const probe = new SchedulerSim(seed, 0)
      const r = runSeedOwnerRule(seed, probe.nExecutors, probe.workflow.tasks.map(t => t.id))
      agreed += r.agreed; tasks += r.tasks; lost += r.lost; dup += r.duplicated
    }
    expect(agreed / tasks).toBeLessThan(0.5)
    expect(lost).toBeGreaterThan(0)
    expect(dup).toBeGreaterThan(0)
  })

  it('the same seed replays the same run', () => {
    const a = runSchedulerSeed(3, simulate, 300)
    const b = runSchedulerSeed(3, simulate, 300)
    expect(b).toEqual(a)
  }, 120_000)
})
