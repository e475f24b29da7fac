import { describe, expect, it } from 'vitest'
import { RaftCore } from '../src/core/raft-core.js'
import { InvalidParametersError, ProposalDroppedError, RaftProtocolError } from '../src/errors.js'
import { MemoryStorage } from '../src/storage/memory-storage.js'
import type { Entry } from '../src/types.js'
import { Cluster } from './cluster.js'
import { MutantCore } from './support/mutant-core.js'

const ids = (n: number): string[] => Array.from({ length: n }, (_, i) => `n${i + 1}`)
const ent = (index: number, term: number): Entry => ({ index, term, type: 'normal', data: new TextEncoder().encode(`${index}@${term}`) })

/** A store holding a given log (terms of entries 1..n) and term. */
function storeWith (voters: string[], terms: number[], term: number): MemoryStorage {
  const s = new MemoryStorage({ voters })
  s.write({ entries: terms.map((t, i) => ent(i + 1, t)), hardState: { term, vote: '', commit: 0 } })
  return s
}

describe('elections (checklist 1-7)', () => {
  it('1: one leader per term, and no spurious elections in a healthy cluster', () => {
    const c = new Cluster(ids(5))
    c.tick(30)
    expect(c.leaders()).toHaveLength(1)
    const leader = c.leaders()[0]!
    const term = c.core(leader).term
    c.tick(200)
    expect(c.leaders()).toEqual([leader])
    for (const core of c.cores.values()) expect(core.term).toBe(term)
  })

  it('2: a partitioned leader is replaced; on rejoin it steps down without disrupting the new leader', () => {
    const c = new Cluster(ids(3))
    c.elect('n1')
    c.isolate('n1')
    c.tick(40)
    const newLeader = c.leaders().find(l => l !== 'n1')!
    expect(newLeader).toBeDefined()
    expect(c.core('n1').role).not.toBe('leader') // CheckQuorum stepped it down
    const term = c.core(newLeader).term
    c.heal()
    c.tick(5)
    expect(c.leaders()).toEqual([newLeader])
    expect(c.core(newLeader).term).toBe(term)
  })

  it('3: no leader and no commit without a quorum; recovery once it returns', () => {
    const c = new Cluster(ids(3))
    c.elect('n1')
    c.propose('n1', 'a')
    c.isolate('n2')
    c.isolate('n3')
    c.core('n1').propose(new TextEncoder().encode('b'))
    c.tick(50)
    expect(c.data('n1')).toEqual(['a'])
    expect(c.leaders()).toEqual([])
    c.heal()
    c.tick(50)
    expect(c.leaders()).toHaveLength(1)
    const l = c.leaders()[0]!
    c.propose(l, 'c')
    c.tick(3)
    expect(c.data(l).at(-1)).toBe('c')
  })

  it('4: many elections under random minority partitions of 7 keep one leader per term', () => {
    const c = new Cluster(ids(7))
    const seen = new Map<number, string>()
    let x = 12345
    const rnd = (): number => { x = (x * 1103515245 + 12345) & 0x7fffffff; return x / 0x7fffffff }
    for (let round = 0; round < 30; round++) {
      c.heal()
      const out = ids(7).filter(() => rnd() < 0.43).slice(0, 3)
      for (const o of out) c.isolate(o)
      for (let t = 0; t < 40; t++) {
        c.tick(1)
        for (const l of c.leaders()) {
          const term = c.core(l).term
          expect(seen.get(term) ?? l).toBe(l)
          seen.set(term, l)
        }
      }
      expect(c.leaders().filter(l => !out.includes(l)).length).toBeGreaterThanOrEqual(1)
    }
  })

  it('5: split votes resolve through randomised timeouts', () => {
    const c = new Cluster(ids(4), { preVote: false })
    // Two candidates at once split the 4 votes 2/2.
    c.drop = m => m.type === 'vote' && ((m.from === 'n1' && m.to === 'n4') || (m.from === 'n2' && m.to === 'n3'))
    c.core('n1').campaign()
    c.core('n2').campaign()
    c.flush()
    expect(c.leaders()).toEqual([])
    c.drop = undefined
    c.tick(40)
    expect(c.leaders()).toHaveLength(1)
  })

  it('6: one vote per term, persisted before the reply, and only for an up-to-date log', () => {
    const s = storeWith(ids(3), [1, 1, 2], 2)
    const core = new RaftCore({ id: 'n1', storage: s })
    core.step({ type: 'vote', from: 'n2', to: 'n1', term: 3, index: 3, logTerm: 2 })
    const rd = core.ready()
    expect(rd.hardState).toMatchObject({ term: 3, vote: 'n2' })
    expect(rd.mustSync).toBe(true)
    // The grant is never among the messages sent before persisting.
    expect(rd.earlyMessages).toEqual([])
    expect(rd.messages).toEqual([expect.objectContaining({ type: 'voteResp', to: 'n2', reject: false })])
    core.advance()
    core.step({ type: 'vote', from: 'n3', to: 'n1', term: 3, index: 9, logTerm: 2 })
    expect(core.ready().messages).toEqual([expect.objectContaining({ type: 'voteResp', to: 'n3', reject: true })])
    core.advance()
    // Stale log: lower last term, or same last term and shorter.
    core.step({ type: 'vote', from: 'n3', to: 'n1', term: 4, index: 9, logTerm: 1 })
    expect(core.ready().messages).toEqual([expect.objectContaining({ type: 'voteResp', reject: true })])
    core.advance()
    core.step({ type: 'vote', from: 'n3', to: 'n1', term: 5, index: 2, logTerm: 2 })
    expect(core.ready().messages).toEqual([expect.objectContaining({ type: 'voteResp', reject: true })])
  })

  it('7: stale-term messages are ignored; a higher term forces any role to step down', () => {
    const c = new Cluster(ids(3))
    c.elect('n1')
    const l = c.core('n1')
    const term = l.term
    l.step({ type: 'app', from: 'n2', to: 'n1', term: term - 1, index: 0, logTerm: 0, entries: [], commit: 0 })
    expect(l.role).toBe('leader')
    l.step({ type: 'heartbeatResp', from: 'n2', to: 'n1', term: term + 5 })
    expect(l.role).toBe('follower')
    expect(l.term).toBe(term + 5)
  })
})

describe('PreVote and CheckQuorum (checklist 8-9)', () => {
  it('8: a rejoining partitioned node cannot bump the term or disrupt the leader', () => {
    const c = new Cluster(ids(3))
    c.elect('n1')
    const term = c.core('n1').term
    c.isolate('n3')
    c.tick(100)
    expect(c.core('n3').term).toBe(term) // pre-votes never win, the term stays
    c.heal()
    c.tick(5)
    expect(c.leaders()).toEqual(['n1'])
    expect(c.core('n1').term).toBe(term)
  })

  it('8: without PreVote the same rejoin bumps terms (the disruption PreVote prevents)', () => {
    const c = new Cluster(ids(3), { preVote: false, checkQuorum: false })
    c.elect('n1')
    const term = c.core('n1').term
    c.isolate('n3')
    c.tick(100)
    expect(c.core('n3').term).toBeGreaterThan(term)
  })

  it('9: a leader without a quorum steps down after an election timeout', () => {
    const c = new Cluster(ids(5))
    c.elect('n1')
    for (const o of ['n2', 'n3', 'n4']) c.isolate(o)
    c.tick(9, ['n1'])
    expect(c.core('n1').role).toBe('leader')
    c.tick(12, ['n1'])
    expect(c.core('n1').role).toBe('follower')
  })

  it('9: votes are refused while a leader is live (lease), and a stuck higher-term candidate is freed', () => {
    const c = new Cluster(ids(3), { preVote: false })
    c.elect('n1')
    c.isolate('n3')
    c.tick(60) // n3 keeps campaigning, its term climbs
    const t3 = c.core('n3').term
    expect(t3).toBeGreaterThan(c.core('n1').term)
    c.heal()
    // n2 hears from n1 and ignores n3's votes; n1 learns n3's term from a response and steps down.
    c.tick(60)
    expect(c.leaders()).toHaveLength(1)
    const l = c.leaders()[0]!
    for (const core of c.cores.values()) expect(core.term).toBe(c.core(l).term)
  })

  it('lease reads require CheckQuorum', () => {
    expect(() => new RaftCore({ id: 'a', storage: new MemoryStorage({ voters: ['a'] }), readOnly: 'lease', checkQuorum: false })).toThrow(InvalidParametersError)
  })
})

describe('leadership transfer (checklist 10)', () => {
  it('to an up-to-date follower, to a lagging one after it catches up, never to self or a non-member', () => {
    const c = new Cluster(ids(3))
    c.elect('n1')
    c.propose('n1', 'a')
    c.core('n1').transferLeader('n2')
    c.flush()
    expect(c.leaders()).toEqual(['n2'])
    c.down.add('n3')
    c.propose('n2', 'b')
    c.propose('n2', 'c')
    c.down.delete('n3')
    c.core('n2').transferLeader('n3')
    c.flush()
    expect(c.leaders()).toEqual(['n3'])
    expect(c.data('n3')).toEqual(['a', 'b', 'c'])
    c.core('n3').transferLeader('n3')
    c.core('n3').transferLeader('n9')
    c.flush()
    expect(c.leaders()).toEqual(['n3'])
  })

  it('to a follower that first needs a snapshot', () => {
    const c = new Cluster(ids(3))
    c.elect('n1')
    c.down.add('n3')
    for (let i = 0; i < 10; i++) c.propose('n1', `v${i}`)
    const s1 = c.stores.get('n1')!
    const at = c.core('n1').log.applied
    s1.compactTo({ meta: { index: at, term: s1.term(at), conf: c.core('n1').confState() }, data: new Uint8Array(0) })
    c.down.delete('n3')
    c.core('n1').transferLeader('n3')
    c.tick(3)
    expect(c.sent.some(m => m.type === 'snap' && m.to === 'n3')).toBe(true)
    expect(c.leaders()).toEqual(['n3'])
  })

  it('proposals are refused during a transfer, and the transfer is aborted after an election timeout', () => {
    const c = new Cluster(ids(3))
    c.elect('n1')
    c.isolate('n2')
    c.core('n1').transferLeader('n2')
    expect(() => c.core('n1').propose(new Uint8Array([1]))).toThrow(ProposalDroppedError)
    c.tick(11, ['n1', 'n3'])
    expect(c.core('n1').role).toBe('leader')
    expect(() => c.core('n1').propose(new Uint8Array([1]))).not.toThrow()
  })
})

describe('replication (checklist 11-22)', () => {
  it('11: concurrent proposals through every node commit exactly once, in one order everywhere', () => {
    const c = new Cluster(ids(5))
    c.elect('n1')
    for (let i = 0; i < 50; i++) c.core(`n${1 + (i % 5)}`).propose(new TextEncoder().encode(`v${i}`))
    c.flush()
    c.tick(2)
    const order = c.data('n1')
    expect(new Set(order).size).toBe(50)
    for (const id of ids(5)) expect(c.data(id)).toEqual(order)
  })

  it('12: no amplification: each entry goes to each follower about once', () => {
    const c = new Cluster(ids(3))
    c.elect('n1')
    c.sent.length = 0
    for (let i = 0; i < 100; i++) c.core('n1').propose(new TextEncoder().encode(`v${i}`))
    c.flush()
    const carried = c.sent.filter(m => m.type === 'app').reduce((n, m) => n + (m.entries?.length ?? 0), 0)
    expect(carried).toBeLessThanOrEqual(2 * 100 * 1.1)
  })

  it('12: with batchAppends, proposals between two Readys go to each follower in one append', () => {
    const c = new Cluster(ids(3), { batchAppends: true })
    c.elect('n1')
    c.sent.length = 0
    for (let i = 0; i < 40; i++) c.core('n1').propose(new TextEncoder().encode(`v${i}`))
    c.flush()
    const apps = c.sent.filter(m => m.type === 'app' && (m.entries?.length ?? 0) > 0)
    expect(apps).toHaveLength(2)
    expect(apps.map(m => m.entries!.length)).toEqual([40, 40])
    for (const id of ids(3)) expect(c.data(id)).toHaveLength(40)
  })

  it('14: every divergent follower of Figure 7 is repaired by the leader', () => {
    // Figure 7: the leader's log, and followers (a)-(f).
    const leaderLog = [1, 1, 1, 4, 4, 5, 5, 6, 6, 6]
    const followers: Record<string, number[]> = {
      a: [1, 1, 1, 4, 4, 5, 5, 6, 6],
      b: [1, 1, 1, 4],
      c: [1, 1, 1, 4, 4, 5, 5, 6, 6, 6, 6],
      d: [1, 1, 1, 4, 4, 5, 5, 6, 6, 6, 7, 7],
      e: [1, 1, 1, 4, 4, 4, 4],
      f: [1, 1, 1, 2, 2, 2, 3, 3, 3, 3, 3]
    }
    for (const [name, log] of Object.entries(followers)) {
      const voters = ['L', name, 'x']
      const c = new Cluster([])
      c.addNode('L', storeWith(voters, leaderLog, 8))
      c.addNode(name, storeWith(voters, log, 8))
      c.addNode('x', storeWith(voters, leaderLog, 8))
      c.elect('L')
      expect(c.leaders()).toEqual(['L'])
      c.tick(3)
      const want = [...leaderLog, 9]
      const got = Array.from({ length: want.length }, (_, i) => c.core(name).log.term(i + 1))
      expect(got, `follower ${name}`).toEqual(want)
      expect(c.core(name).log.lastIndex(), `follower ${name}`).toBe(11)
    }
  })

  it('15: fast backtracking repairs a long conflict in a few round trips', () => {
    const leaderLog = [1, ...Array<number>(300).fill(3)]
    const follower = [1, ...Array<number>(400).fill(2)]
    const voters = ['L', 'F', 'x']
    const c = new Cluster([])
    c.addNode('L', storeWith(voters, leaderLog, 4))
    c.addNode('F', storeWith(voters, follower, 4))
    c.addNode('x', storeWith(voters, leaderLog, 4))
    c.elect('L')
    c.tick(2)
    const rejects = c.sent.filter(m => m.type === 'appResp' && m.from === 'F' && m.reject === true)
    expect(rejects.length).toBeLessThanOrEqual(3)
    expect(c.core('F').log.term(301)).toBe(3)
  })

  it('16 (Figure 8): an entry of an earlier term is not committed by counting replicas', () => {
    // S1 leads term 2 with entry 2 on S1, S2; S5 wrote entry 2 at term 3 (never replicated).
    const voters = ['s1', 's2', 's3', 's4', 's5']
    for (const mutation of [undefined, 'commit-old-term-by-count'] as const) {
      const c = new Cluster([], { mutation, maxSizePerMsg: 1 })
      c.addNode('s1', storeWith(voters, [1, 2], 4))
      c.addNode('s2', storeWith(voters, [1, 2], 4))
      c.addNode('s3', storeWith(voters, [1], 4))
      c.addNode('s4', storeWith(voters, [1], 4))
      c.addNode('s5', storeWith(voters, [1, 3], 4))
      c.down.add('s5')
      // s1 leads term 5; its no-op (index 3) reaches nobody, but entry 2 (term 2) reaches s3, s4.
      // (s3, s4 first reject the probe at index 2, then take entry 2 alone.)
      c.drop = m => m.type === 'app' && (m.entries ?? []).some(e => e.index === 3) && c.core(m.to).log.lastIndex() >= 2
      c.elect('s1')
      expect(c.leaders()).toEqual(['s1'])
      c.tick(3)
      expect(c.core('s3').log.term(2)).toBe(2)
      const committed = c.core('s1').log.committed
      // s5 (last term 3) could still win s2-s4's votes and overwrite entry 2: it must not count as committed.
      if (mutation === undefined) expect(committed).toBeLessThan(2)
      else expect(committed).toBe(2)
    }
  })

  it('17: a partitioned old leader loses its uncommitted entries when it rejoins', () => {
    const c = new Cluster(ids(3))
    c.elect('n1')
    c.propose('n1', 'a')
    c.isolate('n1')
    c.core('n1').propose(new TextEncoder().encode('lost'))
    c.flush()
    c.tick(40)
    const l = c.leaders().find(x => x !== 'n1')!
    c.propose(l, 'b')
    c.heal()
    c.tick(5)
    expect(c.data('n1')).toEqual(['a', 'b'])
  })

  it('18: flow control: the in-flight cap pauses replication and acknowledgements resume it', () => {
    const c = new Cluster(ids(3), { maxInflightMsgs: 2, maxSizePerMsg: 1 })
    c.elect('n1')
    c.tick(1)
    const leader = c.core('n1')
    expect(leader.prs.get('n2')!.state).toBe('replicate')
    c.cut.add('n2>n1') // acknowledgements lost
    c.sent.length = 0
    for (let i = 0; i < 10; i++) leader.propose(new TextEncoder().encode(`v${i}`))
    c.flush()
    expect(c.sent.filter(m => m.type === 'app' && m.to === 'n2').length).toBe(2)
    expect(leader.prs.get('n2')!.isPaused()).toBe(true)
    c.heal()
    c.tick(3)
    expect(leader.prs.get('n2')!.match).toBe(leader.log.lastIndex())
  })

  it('18: a heartbeat response recovers a probing follower whose append was lost', () => {
    const c = new Cluster(ids(3))
    c.elect('n1')
    const leader = c.core('n1')
    leader.reportUnreachable('n2')
    expect(leader.prs.get('n2')!.state).toBe('probe')
    c.drop = m => m.type === 'app' && m.to === 'n2'
    leader.propose(new TextEncoder().encode('x'))
    c.flush()
    expect(leader.prs.get('n2')!.isPaused()).toBe(true)
    c.drop = undefined
    c.tick(2)
    expect(leader.prs.get('n2')!.match).toBe(leader.log.lastIndex())
  })

  it('20: the uncommitted-size limit drops proposals with a retryable error when quorum is lost', () => {
    const c = new Cluster(ids(3), { maxUncommittedBytes: 1000 })
    c.elect('n1')
    c.isolate('n1')
    let dropped = 0
    for (let i = 0; i < 100; i++) {
      try { c.core('n1').propose(new Uint8Array(50)) } catch (err) { expect(err).toBeInstanceOf(ProposalDroppedError); dropped++ }
    }
    expect(dropped).toBeGreaterThan(50)
  })

  it('21: followers forward proposals; candidates and leaderless nodes refuse them', () => {
    const c = new Cluster(ids(3))
    c.elect('n1')
    c.propose('n3', 'via-follower')
    c.tick(2)
    expect(c.data('n1')).toEqual(['via-follower'])
    const lone = new Cluster(ids(3))
    expect(() => lone.core('n2').propose(new Uint8Array([1]))).toThrow(/no leader/)
    lone.isolate('n2')
    lone.core('n2').campaign()
    lone.core('n2').tick()
    const noFwd = new Cluster(ids(3), { proposalForwarding: false })
    noFwd.elect('n1')
    expect(() => noFwd.core('n2').propose(new Uint8Array([1]))).toThrow(ProposalDroppedError)
  })

  it('22: a follower whose commit lagged learns it from the next heartbeat', () => {
    const c = new Cluster(ids(3))
    c.elect('n1')
    c.drop = m => m.to === 'n3' && m.type === 'app' && (m.entries?.length ?? 0) === 0
    c.propose('n1', 'a')
    c.drop = undefined
    c.tick(2)
    expect(c.data('n3')).toEqual(['a'])
  })
})

describe('persistence and crashes (checklist 23-24)', () => {
  it('23: term, vote and log survive a restart of every node', () => {
    const c = new Cluster(ids(3))
    c.elect('n1')
    c.propose('n1', 'a')
    c.propose('n1', 'b')
    const term = c.core('n1').term
    for (const id of ids(3)) { c.down.add(id); c.restart(id) }
    for (const id of ids(3)) {
      expect(c.core(id).term).toBe(term)
      expect(c.core(id).log.lastIndex()).toBe(3)
    }
    c.tick(40)
    const l = c.leaders()[0]!
    c.propose(l, 'c')
    c.tick(2)
    for (const id of ids(3)) expect(c.data(id)).toEqual(['a', 'b', 'c'])
  })

  it('24: a single voter commits nothing before its own write is durable', () => {
    const s = new MemoryStorage({ voters: ['solo'] })
    const core = new RaftCore({ id: 'solo', storage: s })
    core.campaign()
    let rd = core.ready()
    s.write(rd)
    core.advance()
    core.propose(new Uint8Array([7]))
    rd = core.ready()
    expect(rd.entries.map(e => e.index)).toContain(2)
    expect(rd.committedEntries.map(e => e.index)).not.toContain(2)
    s.write(rd)
    core.advance()
    rd = core.ready()
    expect(rd.committedEntries.map(e => e.index)).toContain(2)
  })

  it('the host protocol is enforced: ready twice without advance is an error', () => {
    const core = new RaftCore({ id: 'a', storage: new MemoryStorage({ voters: ['a'] }) })
    core.campaign()
    core.ready()
    expect(() => core.ready()).toThrow(RaftProtocolError)
  })
})

describe('snapshots (checklist 30-32)', () => {
  it('30: a follower behind the compacted log is caught up with InstallSnapshot', () => {
    const c = new Cluster(ids(3))
    c.elect('n1')
    c.down.add('n3')
    for (let i = 0; i < 20; i++) c.propose('n1', `v${i}`)
    const s1 = c.stores.get('n1')!
    const at = c.core('n1').log.applied
    s1.compactTo({ meta: { index: at, term: s1.term(at), conf: c.core('n1').confState() }, data: new TextEncoder().encode('state') })
    c.down.delete('n3')
    c.tick(3)
    expect(c.sent.some(m => m.type === 'snap' && m.to === 'n3')).toBe(true)
    expect(c.stores.get('n3')!.snapshot().meta.index).toBe(at)
    c.propose('n1', 'after')
    c.tick(2)
    expect(c.data('n3')).toEqual(['after'])
    expect(c.core('n1').prs.get('n3')!.state).toBe('replicate')
  })

  it('32: voters and learners are restored from a snapshot', () => {
    const s = new MemoryStorage({ voters: ['a'] })
    s.write({ entries: [], snapshot: { meta: { index: 5, term: 2, conf: { voters: ['a', 'b'], learners: ['c'] } }, data: new Uint8Array(0) } })
    const core = new RaftCore({ id: 'a', storage: s })
    expect(core.confState()).toEqual({ voters: ['a', 'b'], learners: ['c'] })
    expect(core.log.committed).toBe(5)
  })
})

describe('membership (checklist 33-36)', () => {
  const apply = (c: Cluster): void => { c.tick(3) }

  it('33: add and remove a voter; removing the leader makes it step down', () => {
    const c = new Cluster(ids(3))
    c.elect('n1')
    c.addNode('n4', new MemoryStorage({ voters: ids(3) }))
    c.core('n1').proposeConfChange({ type: 'addVoter', node: 'n4' })
    apply(c)
    expect(c.core('n1').confState().voters).toContain('n4')
    c.propose('n1', 'x')
    apply(c)
    expect(c.data('n4')).toEqual(['x'])
    c.core('n1').proposeConfChange({ type: 'removeNode', node: 'n1' })
    apply(c)
    expect(c.core('n1').role).toBe('follower')
    c.tick(40)
    const l = c.leaders()[0]!
    expect(l).not.toBe('n1')
    expect(c.core(l).confState().voters.sort()).toEqual(['n2', 'n3', 'n4'])
  })

  it('35: one pending change at a time, and none before the new leader commits in its term', () => {
    const c = new Cluster(ids(3))
    c.core('n1').campaign()
    // Before the no-op is applied, a change is refused.
    expect(() => c.core('n1').proposeConfChange({ type: 'addLearner', node: 'n9' })).toThrow(/pending/)
    c.flush()
    c.core('n1').proposeConfChange({ type: 'addLearner', node: 'n9' })
    expect(() => c.core('n1').proposeConfChange({ type: 'addLearner', node: 'n8' })).toThrow(/pending/)
    c.flush()
    apply(c)
    expect(() => c.core('n1').proposeConfChange({ type: 'addLearner', node: 'n8' })).not.toThrow()
  })

  it('36: learners receive the log, do not count toward quorum, and can be promoted', () => {
    const c = new Cluster(['n1', 'n2', 'n3'], {}, ['n4'])
    c.elect('n1')
    c.propose('n1', 'a')
    apply(c)
    expect(c.data('n4')).toEqual(['a'])
    // With two voters down, the learner's acknowledgement does not make a quorum.
    c.down.add('n2')
    c.down.add('n3')
    c.core('n1').propose(new TextEncoder().encode('b'))
    c.flush()
    expect(c.core('n1').log.committed).toBeLessThan(c.core('n1').log.lastIndex())
    c.down.delete('n2')
    c.down.delete('n3')
    apply(c)
    c.core('n1').proposeConfChange({ type: 'addVoter', node: 'n4' })
    apply(c)
    expect(c.core('n1').confState().voters).toContain('n4')
    expect(c.core('n4').promotable()).toBe(true)
  })

  it('36: a learner never campaigns', () => {
    const c = new Cluster(['n1'], {}, ['n2'])
    c.down.add('n1')
    c.tick(100)
    expect(c.core('n2').role).toBe('follower')
    expect(c.core('n2').term).toBe(0)
  })
})

describe('reads (checklist 38-39)', () => {
  it('38: a restarted single voter whose stored commit index lags answers reads only after committing in its term', () => {
    const store = storeWith(['a'], [1, 1, 1], 1)
    store.write({ entries: [], hardState: { term: 1, vote: 'a', commit: 1 } })
    const core = new RaftCore({ id: 'a', storage: store })
    core.campaign()
    core.readIndex('r')
    const rd = core.ready()
    // Entries 2 and 3 may have been acknowledged before the restart: index 1 would be stale.
    expect(rd.readStates).toEqual([])
    store.write(rd)
    core.advance()
    const next = core.ready()
    expect(next.readStates).toEqual([{ index: 4, context: 'r' }])
  })

  it('38: ReadIndex confirms leadership with a quorum round before answering', () => {
    const c = new Cluster(ids(3))
    c.elect('n1')
    c.propose('n1', 'a')
    c.isolate('n2')
    c.isolate('n3')
    c.core('n1').readIndex('r1')
    c.flush()
    expect(c.reads.get('n1')).toEqual([])
    c.heal()
    c.tick(1)
    expect(c.reads.get('n1')).toEqual([{ index: c.core('n1').log.committed, context: 'r1' }])
  })

  it('38: a new leader serves no reads until it commits in its term; follower and learner reads go through the leader', () => {
    const c = new Cluster(ids(3), {}, ['n4'])
    c.drop = m => m.type === 'appResp'
    c.elect('n1')
    c.core('n1').readIndex('early')
    c.flush()
    expect(c.reads.get('n1')).toEqual([])
    c.drop = undefined
    c.tick(2)
    expect(c.reads.get('n1')!.map(r => r.context)).toEqual(['early'])
    c.core('n2').readIndex('f')
    c.core('n4').readIndex('l')
    c.flush()
    expect(c.reads.get('n2')!.map(r => r.context)).toEqual(['f'])
    expect(c.reads.get('n4')!.map(r => r.context)).toEqual(['l'])
  })

  it('39: clock skew breaks lease reads (the hazard that makes safe ReadIndex the default)', () => {
    for (const readOnly of ['lease', 'safe'] as const) {
      const c = new Cluster(ids(3), { readOnly })
      c.elect('n1')
      c.propose('n1', 'a')
      c.isolate('n1')
      // n1's clock runs at a third of the others' speed: its lease outlives its leadership.
      let newLeader: string | undefined
      for (let i = 0; i < 9 && newLeader === undefined; i++) {
        c.tick(3, ['n2', 'n3'])
        c.tick(1, ['n1'])
        newLeader = c.leaders().find(l => l !== 'n1')
      }
      expect(newLeader).toBeDefined()
      c.propose(newLeader!, 'b')
      expect(c.core('n1').role).toBe('leader') // still believes it leads
      c.core('n1').readIndex('stale?')
      c.flush()
      const answered = c.reads.get('n1')!
      if (readOnly === 'lease') {
        // A read served now would miss 'b', which is committed: not linearizable.
        expect(answered).toHaveLength(1)
        expect(answered[0]!.index).toBeLessThan(c.core(newLeader!).log.committed)
      } else {
        expect(answered).toEqual([]) // ReadIndex needs a quorum round n1 cannot get
      }
    }
  })

  it('39: lease reads answer at once (only with CheckQuorum)', () => {
    const c = new Cluster(ids(3), { readOnly: 'lease' })
    c.elect('n1')
    c.isolate('n2')
    c.isolate('n3')
    c.core('n1').readIndex('r')
    c.flush()
    expect(c.reads.get('n1')!.map(r => r.context)).toEqual(['r'])
  })
})

describe('mutations are visible in the core', () => {
  it('double-vote grants a second vote in the same term', () => {
    const core = new MutantCore({ id: 'n1', storage: new MemoryStorage({ voters: ids(3) }) }, 'double-vote')
    core.step({ type: 'vote', from: 'n2', to: 'n1', term: 1, index: 0, logTerm: 0 })
    core.step({ type: 'vote', from: 'n3', to: 'n1', term: 1, index: 0, logTerm: 0 })
    expect(core.ready().messages.filter(m => m.reject === false)).toHaveLength(2)
  })
})
