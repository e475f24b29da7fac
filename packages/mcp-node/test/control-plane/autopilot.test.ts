import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { autopilot, type AutopilotConfig, type AutopilotHealth, type AutopilotInput, type AutopilotMember } from '../../src/control-plane/autopilot.js'
import { fcParams } from './fc-params.js'

const config: AutopilotConfig = { maxVoters: 5, maxLearners: 4, stabilizationMs: 10_000, deadVoterMs: 30_000 }
const NOW = 1_000_000

function member (peerId: string, joinedAtMs = 0, voterEligible = true, active = true): AutopilotMember {
  return { peerId, voterEligible, active, joinedAtMs }
}
const healthyFor = (ms: number): AutopilotHealth => ({ lastContactMs: NOW, healthySinceMs: NOW - ms })
const silentFor = (ms: number): AutopilotHealth => ({ lastContactMs: NOW - ms, healthySinceMs: undefined })

function input (over: Partial<AutopilotInput> & { voters: string[], learners?: string[] }): AutopilotInput {
  const learners = over.learners ?? []
  const all = [...over.voters, ...learners]
  return {
    nowMs: NOW,
    self: over.voters[0]!,
    isLeader: true,
    pendingConfChange: false,
    members: all.map((p, i) => member(p, i)),
    health: new Map(all.map((p) => [p, healthyFor(60_000)])),
    config,
    ...over,
    learners,
  }
}

describe('autopilot', () => {
  it('acts only as a leader with no change in flight', () => {
    expect(autopilot(input({ voters: ['a'], learners: ['b', 'c'], isLeader: false })).kind).toBe('none')
    expect(autopilot(input({ voters: ['a'], learners: ['b', 'c'], pendingConfChange: true })).kind).toBe('none')
  })

  it('grows from 1 to 3 voters at once when two learners are healthy, never resting at 2', () => {
    expect(autopilot(input({ voters: ['a'], learners: ['b'] }))).toMatchObject({ kind: 'none' })
    const fresh = input({ voters: ['a'], learners: ['b', 'c'], health: new Map([['b', healthyFor(10)], ['c', healthyFor(10)]]) })
    expect(autopilot(fresh)).toMatchObject({ kind: 'addVoter', node: 'b' })
    expect(autopilot({ ...fresh, voters: ['a', 'b'], learners: ['c'] })).toMatchObject({ kind: 'addVoter', node: 'c' })
  })

  it('grows from 3 to 5 only after two learners stayed healthy for the stabilisation period', () => {
    const early = input({ voters: ['a', 'b', 'c'], learners: ['d', 'e'], health: new Map([['d', healthyFor(9_000)], ['e', healthyFor(60_000)]]) })
    expect(autopilot(early)).toMatchObject({ kind: 'none' })
    const later = { ...early, nowMs: NOW + 1_500, health: new Map([['d', { lastContactMs: NOW + 1_500, healthySinceMs: NOW - 9_000 }], ['e', { lastContactMs: NOW + 1_500, healthySinceMs: NOW - 60_000 }]]) }
    expect(autopilot(later)).toMatchObject({ kind: 'addVoter', node: 'e' })
    expect(autopilot(input({ voters: ['a', 'b', 'c', 'e'], learners: ['d'] }))).toMatchObject({ kind: 'addVoter', node: 'd' })
    expect(autopilot(input({ voters: ['a', 'b', 'c', 'd', 'e'], learners: ['f', 'g'] }))).toMatchObject({ kind: 'none' })
    expect(autopilot(input({ voters: ['a', 'b', 'c'], learners: ['d', 'e'], config: { ...config, maxVoters: 3 } }))).toMatchObject({ kind: 'none' })
  })

  it('adds joined members as learners up to maxLearners, earliest first; ephemeral members stay clients', () => {
    const base = input({ voters: ['a'] })
    const members = [member('a', 0), member('eph', 1, false), member('z', 2), member('y', 3)]
    expect(autopilot({ ...base, members })).toMatchObject({ kind: 'addLearner', node: 'z' })
    expect(autopilot({ ...base, members: [member('a', 0), member('eph', 1, false)] })).toMatchObject({ kind: 'none' })
    const full = input({ voters: ['a'], learners: ['b', 'c', 'd', 'e'], config: { ...config, maxVoters: 1 } })
    expect(autopilot({ ...full, members: [...full.members, member('f', 9)] })).toMatchObject({ kind: 'none' })
  })

  it('replaces a dead voter by the healthiest learner, then removes it, keeping a live majority', () => {
    const five = input({ voters: ['a', 'b', 'c', 'd', 'e'], learners: ['f', 'g'] })
    five.health = new Map([...five.health, ['c', silentFor(31_000)], ['g', healthyFor(120_000)]])
    expect(autopilot(five)).toMatchObject({ kind: 'addVoter', node: 'g' })
    expect(autopilot({ ...five, voters: ['a', 'b', 'c', 'd', 'e', 'g'], learners: ['f'] })).toMatchObject({ kind: 'removeNode', node: 'c' })
    // not yet dead: nothing
    five.health = new Map([...five.health, ['c', silentFor(29_000)]])
    expect(autopilot(five).kind).toBe('none')
  })

  it('with no learner, a mesh that shrinks keeps 3 voters; never removes a voter without a live majority', () => {
    const three = input({ voters: ['a', 'b', 'c'] })
    three.health = new Map([['b', silentFor(40_000)], ['c', healthyFor(1)]])
    expect(autopilot(three)).toMatchObject({ kind: 'none' })
    const five = input({ voters: ['a', 'b', 'c', 'd', 'e'] })
    five.health = new Map([...five.health, ['b', silentFor(40_000)]])
    expect(autopilot(five)).toMatchObject({ kind: 'removeNode', node: 'b' })
    const lost = input({ voters: ['a', 'b', 'c', 'd', 'e'], learners: ['f'] })
    lost.health = new Map([...lost.health, ['b', silentFor(40_000)], ['c', silentFor(40_000)], ['d', silentFor(40_000)]])
    expect(autopilot(lost).kind).not.toBe('removeNode')
  })

  it('removes dead learners and members that left', () => {
    const l = input({ voters: ['a'], learners: ['b'] })
    l.health = new Map([['b', silentFor(31_000)]])
    expect(autopilot(l)).toMatchObject({ kind: 'removeNode', node: 'b' })
    const left = input({ voters: ['a', 'b', 'c'], learners: ['d'] })
    left.members = left.members.map((m) => (m.peerId === 'b' ? { ...m, active: false } : m))
    expect(autopilot(left)).toMatchObject({ kind: 'removeNode', node: 'b' })
  })

  it('pinned voters: promotes the pinned, demotes the rest, hands over leadership when the leader is not pinned', () => {
    const pinnedCfg = { ...config, pinnedVoters: ['a', 'c'] }
    expect(autopilot(input({ voters: ['a', 'b'], learners: ['c', 'd', 'e'], config: pinnedCfg }))).toMatchObject({ kind: 'addVoter', node: 'c' })
    expect(autopilot(input({ voters: ['a', 'b', 'c'], learners: ['d'], config: pinnedCfg }))).toMatchObject({ kind: 'addLearner', node: 'b' })
    expect(autopilot(input({ voters: ['a', 'c'], learners: ['d', 'e'], config: pinnedCfg })).kind).toBe('none')
    expect(autopilot(input({ voters: ['b', 'a', 'c'], config: pinnedCfg }))).toMatchObject({ kind: 'transferLeader', node: 'a' })
  })

  it('demotes a voter that may no longer vote', () => {
    const i = input({ voters: ['a', 'b', 'c'], learners: ['d'] })
    i.members = i.members.map((m) => (m.peerId === 'c' ? { ...m, voterEligible: false } : m))
    expect(autopilot(i)).toMatchObject({ kind: 'addLearner', node: 'c' })
  })

  it('breaks ties by time healthy, then join time, then peer id', () => {
    const i = input({ voters: ['a'], learners: ['d', 'c', 'b'] })
    i.members = [member('a', 0), member('d', 5), member('c', 5), member('b', 7)]
    i.health = new Map([['b', healthyFor(1000)], ['c', healthyFor(1000)], ['d', healthyFor(1000)]])
    expect(autopilot(i)).toMatchObject({ kind: 'addVoter', node: 'c' })
  })

  it('never removes itself, never leaves the voters without a live majority, never promotes an ineligible peer, never exceeds maxVoters + 1', () => {
    const peers = ['a', 'b', 'c', 'd', 'e', 'f', 'g', 'h']
    const arb = fc.record({
      nVoters: fc.integer({ min: 1, max: 6 }),
      nLearners: fc.integer({ min: 0, max: 4 }),
      eligible: fc.array(fc.boolean(), { minLength: 8, maxLength: 8 }),
      active: fc.array(fc.boolean(), { minLength: 8, maxLength: 8 }),
      silentMs: fc.array(fc.constantFrom(0, 5_000, 40_000), { minLength: 8, maxLength: 8 }),
      healthyMs: fc.array(fc.option(fc.constantFrom(0, 5_000, 20_000), { nil: undefined }), { minLength: 8, maxLength: 8 }),
      maxVoters: fc.constantFrom(1, 3, 5),
      pinned: fc.option(fc.subarray(peers, { minLength: 1 }), { nil: undefined }),
    })
    fc.assert(fc.property(arb, (r) => {
      const voters = peers.slice(0, r.nVoters)
      const learners = peers.slice(r.nVoters, Math.min(8, r.nVoters + r.nLearners))
      const members = peers.map((p, i) => member(p, i, r.eligible[i], r.active[i]))
      const health = new Map(peers.map((p, i) => [p, { lastContactMs: NOW - r.silentMs[i]!, healthySinceMs: r.silentMs[i]! > 3_000 || r.healthyMs[i] === undefined ? undefined : NOW - r.healthyMs[i] }]))
      const cfg = { ...config, maxVoters: r.maxVoters, pinnedVoters: r.pinned }
      const i: AutopilotInput = { nowMs: NOW, self: 'a', isLeader: true, pendingConfChange: false, voters, learners, members, health, config: cfg }
      const a = autopilot(i)
      if (a.kind === 'none') return
      expect(a.node).not.toBe('a')
      const deadV = (p: string): boolean => p !== 'a' && r.silentMs[peers.indexOf(p)]! > cfg.deadVoterMs
      if (a.kind === 'removeNode' || (a.kind === 'addLearner' && voters.includes(a.node))) {
        if (voters.includes(a.node)) {
          const rest = voters.filter((v) => v !== a.node)
          expect(rest.filter((v) => !deadV(v)).length).toBeGreaterThanOrEqual(Math.floor(rest.length / 2) + 1)
        }
      }
      if (a.kind === 'addVoter') {
        expect(learners).toContain(a.node)
        const m = members.find((x) => x.peerId === a.node)!
        if (r.pinned === undefined) expect(m.voterEligible && m.active).toBe(true)
        else expect(r.pinned).toContain(a.node)
        expect(voters.length + 1).toBeLessThanOrEqual(Math.max(cfg.maxVoters + 1, voters.length + 1))
        if (!voters.some(deadV) && r.pinned === undefined) expect(voters.length + 1).toBeLessThanOrEqual(cfg.maxVoters)
      }
    }), fcParams('autopilot invariants', 500))
  })
})
