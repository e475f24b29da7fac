// Replicas as real child processes: one restarted after a SIGKILL, one frozen with SIGSTOP
// (issue 17, items 8 and 9). The times are printed by bench/recovery.ts; here, outcomes.
import { describe, expect, it } from 'vitest'
import { freezeScenario, restartScenario } from '../recovery-scenarios.js'

describe('a replica restarted after a SIGKILL', () => {
  it('answers calls again soon after its first passing health check (not at the end of its 30 s ejection), and idle sticky scopes move back onto it', async () => {
    const r = await restartScenario({}, { scopes: 6, waitMs: 60_000 })
    expect(r.errors).toEqual([])
    expect(r.ejected).toBe(true)
    // The base ejection is 30 s and b was ejected before it restarted: before the fix it
    // answered nothing for 18 s and more after its health check passed. 10 s leaves room for
    // a loaded machine.
    expect(r.healthyToTrafficMs).toBeLessThan(10_000)
    expect(r.scopesOnB).toBeGreaterThan(0)
    expect(r.rebalanced).toBeGreaterThan(0)
  }, 150_000)

  it('with rebalance: false, sticky scopes stay where failover put them', async () => {
    const r = await restartScenario({}, { scopes: 4, waitMs: 60_000, scopeRebalance: false })
    expect(r.errors).toEqual([])
    expect(r.scopesOnB).toBe(0)
    expect(r.rebalanced).toBe(0)
  }, 150_000)
})

describe('a replica frozen with SIGSTOP for 10 s', () => {
  it('read-only calls in flight on it fail over before it resumes; no non-idempotent call runs twice, the abandoned ones fail as outcome-unknown', async () => {
    const r = await freezeScenario({}, { freezeMs: 10_000 })
    expect(r.stalls).toBeGreaterThan(0)
    expect(r.safeFailed).toBe(0)
    expect(r.safeInFlight).toBeGreaterThan(0)
    // Every read-only call that was in flight when b froze ended (answered by a) while b was
    // still frozen: none waited for b to resume.
    expect(r.safeEndedBeforeThaw).toBe(r.safeInFlight)
    expect(r.duplicated).toBe(0)
    expect(r.missing).toBe(0)
    for (const why of Object.keys(r.unsafeFailures)) expect(['outcome-unknown', 'not-idempotent']).toContain(why)
  }, 150_000)
})
