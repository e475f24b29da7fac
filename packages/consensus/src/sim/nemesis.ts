import type { ConfChange, NodeId } from '../types.js'
import { ProposalDroppedError } from '../errors.js'
import type { LeaderWatcher } from './invariants.js'
import type { SimNode, World } from './world.js'

/**
 * The fault injector: partitions (leader, halves, asymmetric), crashes and power loss,
 * slow disks, membership churn and leadership transfer, every `everyMs`; in the
 * leader-churn and figure8 profiles it also follows leaders (crashing or cutting them off
 * right after they win or commit). All randomness comes from the world's nemesis stream.
 */
export class Nemesis<I, O> implements LeaderWatcher {
  private readonly w: World<I, O>
  private readonly everyMs: number
  private readonly pIsolateOnWin: number
  private readonly pIsolateOnCommit: number
  /** figure8: nodes cut off from every member except those in the set, each until its own time. */
  private readonly isolated = new Map<NodeId, Set<NodeId>>()

  constructor (w: World<I, O>, init: { everyMs: number, pIsolateOnWin: number, pIsolateOnCommit: number }) {
    this.w = w
    this.everyMs = init.everyMs
    this.pIsolateOnWin = init.pIsolateOnWin
    this.pIsolateOnCommit = init.pIsolateOnCommit
  }

  /** Schedules the periodic faults until the fault phase ends. */
  start (): void {
    const w = this.w
    w.at(w.now + this.everyMs, () => {
      this.step()
      if (w.faultPhase) this.start()
    })
  }

  /** Heals every partition, the figure8 isolations included. */
  heal (): void {
    this.w.heal()
    this.isolated.clear()
  }

  onCommitAdvanced (n: SimNode): void {
    // figure8: the leader fails right after it advances its commit index, before the
    // appends that follow (its no-op, later entries, the new commit index) land.
    if (n.core.role === 'leader' && this.w.faultPhase && this.w.rNem() < this.pIsolateOnCommit) this.isolateWithMinority(n, 'after commit')
  }

  onLeaderElected (n: SimNode): void {
    const w = this.w
    const profile = w.p.profile
    if (profile === 'figure8' && w.faultPhase && w.rNem() < this.pIsolateOnWin) {
      // Cut off at once with a minority: its no-op and first entries reach only them.
      this.isolateWithMinority(n, 'new leader')
    }
    if (profile === 'leader-churn' && w.faultPhase && w.rNem() < 0.4) {
      // Crash some leaders within a few round trips of winning: uncommitted entries of
      // different terms pile up at the same indexes (Figure 8's precondition).
      const inc = n.incarnation
      if (w.rNem() < 0.5 && w.p.faults.partitions) {
        // Cut it off before its first appends land: they are lost in flight.
        w.at(w.now + Math.floor(w.rNem() * 3), () => {
          if (!w.faultPhase) return
          w.cut.clear()
          for (const o of w.members()) if (o.id !== n.id) { w.cut.add(`${n.id}>${o.id}`); w.cut.add(`${o.id}>${n.id}`) }
          w.stats.partitions++
          w.note(`partition isolate new leader ${n.id}`)
          this.healLater(50 + Math.floor(w.rNem() * 300))
        })
      } else {
        w.at(w.now + 1 + Math.floor(w.rNem() * 15), () => {
          if (n.incarnation !== inc || !n.alive || !this.quorumSurvives()) return
          w.crash(n)
          this.restartLater(n, 10 + Math.floor(w.rNem() * 200))
        })
      }
    }
  }

  private quorumSurvives (): boolean {
    return this.w.liveMembers().length > Math.floor(this.w.members().length / 2) + 1
  }

  private healLater (ms: number): void {
    const w = this.w
    w.at(w.now + ms, () => { if (w.faultPhase) { this.heal(); w.note('heal') } })
  }

  private restartLater (n: SimNode, ms: number): void {
    this.w.at(this.w.now + ms, () => { this.w.restart(n) })
  }

  private recut (): void {
    const w = this.w
    w.cut.clear()
    for (const [id, reach] of this.isolated) {
      for (const o of w.nodes.keys()) if (o !== id && !reach.has(o)) { w.cut.add(`${id}>${o}`); w.cut.add(`${o}>${id}`) }
    }
  }

  /**
   * Cuts `n` off from all members but a random minority-minus-one (so `n` and its partners
   * never form a quorum), for 50-450 ms. Other nodes' isolations stay in force, so several
   * old leaders can be away at once and come back one by one.
   */
  private isolateWithMinority (n: SimNode, why: string): void {
    const w = this.w
    const others = w.members().filter(o => o.id !== n.id)
    const k = Math.floor(w.rNem() * Math.max(1, Math.floor((others.length + 1) / 2)))
    const reach = new Set(this.pick(others, k).map(o => o.id))
    this.isolated.set(n.id, reach)
    this.recut()
    w.stats.partitions++
    w.note(`isolate ${why} ${n.id} reach ${[...reach].join(',')}`)
    w.at(w.now + 50 + Math.floor(w.rNem() * 400), () => {
      if (!w.faultPhase || this.isolated.get(n.id) !== reach) return
      this.isolated.delete(n.id)
      this.recut()
      w.note(`rejoin ${n.id}`)
    })
  }

  /** k distinct nodes chosen at random. */
  private pick (from: SimNode[], k: number): SimNode[] {
    const a = from.slice()
    for (let i = a.length - 1; i > 0; i--) {
      const j = Math.floor(this.w.rNem() * (i + 1))
      ;[a[i], a[j]] = [a[j]!, a[i]!]
    }
    return a.slice(0, k)
  }

  /** One round of periodic faults. */
  step (): void {
    const w = this.w
    if (!w.faultPhase) return
    if (w.p.profile === 'leader-churn') { this.churnLeader(); return }
    if (w.p.profile === 'figure8') { this.figure8(); return }
    const faults = w.p.faults
    const r = w.rNem()
    const live = w.liveMembers()
    if (faults.partitions && r < 0.3) {
      this.partition()
    } else if (faults.crashes && r < 0.36) {
      // Power loss: several nodes at once lose what they had not synced.
      const k = w.p.profile === 'slow-storage' ? live.length : 1 + Math.floor(w.rNem() * live.length)
      for (const victim of this.pick(live, k)) {
        w.crash(victim)
        this.restartLater(victim, 20 + Math.floor(w.rNem() * 300))
      }
      w.note(`power loss ${k}`)
    } else if (faults.crashes && r < 0.5) {
      const pickLeader = w.rNem() < 0.4
      const victim = pickLeader ? (w.leaderNode() ?? live[Math.floor(w.rNem() * live.length)]) : live[Math.floor(w.rNem() * live.length)]
      if (victim !== undefined) {
        w.crash(victim)
        this.restartLater(victim, 20 + Math.floor(w.rNem() * 600))
      }
    } else if (faults.slowDisks && r < 0.6) {
      // A storage hiccup on one node or several (shared storage, noisy neighbours).
      const k = w.rNem() < 0.5 ? 1 : 1 + Math.floor(w.rNem() * live.length)
      const until = w.now + 200 + Math.floor(w.rNem() * 800)
      for (const victim of this.pick(live, k)) { victim.slowUntil = until; w.note(`slow disk ${victim.id}`) }
    } else if (faults.membership && r < 0.8) {
      this.changeMembership()
    } else if (faults.membership && r < 0.85) {
      this.transferLeadership()
    }
  }

  private partition (): void {
    const w = this.w
    w.cut.clear()
    w.stats.partitions++
    const kind = w.rNem()
    const ids = w.members().map(n => n.id)
    if (kind < 0.3) {
      // Isolate the leader (or a random node).
      const victim = w.leaderNode()?.id ?? ids[Math.floor(w.rNem() * ids.length)]!
      for (const o of ids) if (o !== victim) { w.cut.add(`${victim}>${o}`); w.cut.add(`${o}>${victim}`) }
      w.note(`partition isolate ${victim}`)
    } else if (kind < 0.7) {
      const side = new Set(ids.filter(() => w.rNem() < 0.5))
      for (const a of ids) for (const b of ids) if (side.has(a) !== side.has(b)) w.cut.add(`${a}>${b}`)
      w.note(`partition halves ${[...side].join(',')}`)
    } else {
      // Asymmetric: some directed links fail.
      for (const a of ids) for (const b of ids) if (a !== b && w.rNem() < 0.3) w.cut.add(`${a}>${b}`)
      w.note(`partition asymmetric ${w.cut.size}`)
    }
    this.healLater(100 + Math.floor(w.rNem() * 800))
  }

  private transferLeadership (): void {
    const w = this.w
    const leader = w.leaderNode()
    const voters = leader !== undefined ? [...leader.core.voters].filter(v => v !== leader.id) : []
    const to = voters[Math.floor(w.rNem() * voters.length)]
    if (leader === undefined || to === undefined) return
    w.stats.leaderTransfers++
    w.note(`transfer ${leader.id}->${to}`)
    leader.core.transferLeader(to)
    w.drive(leader)
  }

  /** figure8's periodic faults: crash a leader or a node now and then, keeping a quorum up. */
  private figure8 (): void {
    const w = this.w
    const live = w.liveMembers()
    if (live.length <= Math.floor(w.members().length / 2) + 1 || w.rNem() < 0.6) return
    const leader = w.leaderNode()
    const victim = leader !== undefined && w.rNem() < 0.5 ? leader : live[Math.floor(w.rNem() * live.length)]!
    w.crash(victim)
    this.restartLater(victim, 20 + Math.floor(w.rNem() * 300))
  }

  /** Crash the leader shortly after it was elected or took proposals; keep a quorum up. */
  private churnLeader (): void {
    const w = this.w
    const leader = w.leaderNode()
    if (leader !== undefined && w.rNem() < 0.5 && this.quorumSurvives()) {
      w.crash(leader)
      this.restartLater(leader, 10 + Math.floor(w.rNem() * 300))
    } else if (w.rNem() < 0.1 && w.p.faults.partitions) {
      w.cut.clear()
      const ids = w.members().map(n => n.id)
      const victim = ids[Math.floor(w.rNem() * ids.length)]!
      for (const o of ids) if (o !== victim) { w.cut.add(`${victim}>${o}`); w.cut.add(`${o}>${victim}`) }
      w.stats.partitions++
      w.note(`partition isolate ${victim}`)
      this.healLater(50 + Math.floor(w.rNem() * 300))
    }
  }

  private changeMembership (): void {
    const w = this.w
    const leader = w.leaderNode()
    if (leader === undefined) return
    const voters = [...leader.core.voters]
    const learners = [...leader.core.learners]
    let change: ConfChange
    const r = w.rNem()
    if (learners.length > 0 && r < 0.6) {
      change = { type: 'addVoter', node: learners[0]! }
    } else if (voters.length > 3 && r < 0.8) {
      const removable = voters.filter(v => v !== leader.id)
      change = { type: 'removeNode', node: removable[Math.floor(w.rNem() * removable.length)]! }
    } else if (voters.length + learners.length < 7) {
      const id = `n${w.nextId++}`
      w.addNode(id)
      change = { type: 'addLearner', node: id }
    } else {
      return
    }
    try {
      leader.core.proposeConfChange(change)
      w.note(`confchange ${change.type} ${change.node}`)
    } catch (err) {
      if (!(err instanceof ProposalDroppedError)) throw err
    }
    w.drive(leader)
  }
}
