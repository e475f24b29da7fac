import type { KvInput, KvOutput } from '../check/kv-model.js'
import type { Operation } from '../check/linearizability.js'
import { prng } from '../core/prng.js'
import type { RaftCore } from '../core/raft-core.js'
import type { RaftCoreInit } from '../types.js'
import { checkLogMatching, observe } from './invariants.js'
import { kvWorkload } from './kv-workload.js'
import { Nemesis } from './nemesis.js'
import { World, createRaftCore } from './world.js'
import type { SimFaults, SimNode, SimProfile, SimStats, WorldParams } from './world.js'
import type { SimWorkload } from './workload.js'

export interface SimulateOptions<I = KvInput, O = KvOutput> {
  seed: number
  /**
   * Initial voters.
   * @default 5
   */
  nodes?: number
  /**
   * Client operations issued during the fault phase.
   * @default 300
   */
  steps?: number
  /**
   * Faults to inject: 'none', or a subset of SimFaults.
   * @default all on
   */
  faults?: Partial<SimFaults> | 'none'
  /** @default 10 */
  clients?: number
  /**
   * Keys of the default key-value workload (ignored with `workload`).
   * @default 5
   */
  keys?: number
  /**
   * The replicated state machine, the client operations and the history check.
   * @default kvWorkload({ keys, clients })
   */
  workload?: SimWorkload<I, O> | undefined
  /**
   * The fault mix: 'mixed' (every fault), 'leader-churn' (leaders crash soon after election,
   * one entry per append), 'slow-storage' (slow disks and power loss), 'figure8' (leaders cut
   * off with a minority right after they win or advance their commit index, so entries of
   * several terms reach only some followers and old leaders return to replicate them: the
   * shape of the paper's Figure 8).
   * @default drawn from the seed: 50% mixed, 15% leader-churn, 15% slow-storage, 20% figure8
   */
  profile?: SimProfile | undefined
  /** Core options for every node (e.g. `{ preVote: false }`); timing options are the simulator's. */
  core?: Pick<RaftCoreInit, 'preVote' | 'checkQuorum' | 'readOnly' | 'maxInflightBytes'> | undefined
  /**
   * Builds each node's core (tests pass a subclass with a deliberate defect, to prove the
   * simulator catches it).
   * @default init => new RaftCore(init)
   */
  createCore?: ((init: RaftCoreInit) => RaftCore) | undefined
  /**
   * Virtual ms after healing within which the cluster must commit a fresh write.
   * @default 10000
   */
  livenessMs?: number
  /**
   * Run the workload's check of the client history (linearizability for the KV workload).
   * @default true
   */
  checkLinearizability?: boolean
  /**
   * Checker time budget.
   * @default 10000
   */
  checkTimeoutMs?: number
  /**
   * Keep a text trace of every event (for replaying and diffing a failing seed).
   * @default false
   */
  trace?: boolean
  /** Stop at the first violation. @default true */
  stopOnViolation?: boolean
}

export interface SimulateResult<I = KvInput, O = KvOutput> {
  ok: boolean
  violations: string[]
  history: Array<Operation<I, O>>
  stats: SimStats
  /** A hash of every event in order: equal hashes, equal runs. */
  traceHash: string
  trace?: string[] | undefined
}

const MAX_EVENTS = 400_000

/**
 * Runs one seeded world: nodes, a network and disks under faults, clients issuing the
 * workload's operations; checks Raft's safety properties continuously, liveness after
 * healing, and the workload's check of the client history. The same seed gives the same run.
 */
export function simulate<I = KvInput, O = KvOutput> (options: SimulateOptions<I, O>): SimulateResult<I, O> {
  const seed = options.seed >>> 0
  const nNodes = options.nodes ?? 5
  const nClients = options.clients ?? 10
  const livenessMs = options.livenessMs ?? 10_000
  const stopOnViolation = options.stopOnViolation ?? true
  const workload = options.workload ?? (kvWorkload({ keys: options.keys, clients: nClients }) as unknown as SimWorkload<I, O>)
  const params = drawParams(options, seed, nClients)

  const hooks = { observe: (_n: SimNode): void => {} }
  const w: World<I, O> = new World(params.world, workload, nNodes, hooks, options.trace === true)
  const nemesis = new Nemesis(w, params.nemesis)
  hooks.observe = n => { observe(w, n, nemesis) }

  for (const id of w.initialVoters) w.addNode(id)
  for (let c = 0; c < nClients; c++) w.at(50 + Math.floor(w.rClient() * 100), () => { w.issue(c) })
  nemesis.start()

  let healedAt = -1
  while (!(stopOnViolation && w.violations.length > 0)) {
    const ev = w.q.pop()
    if (ev === undefined) break
    w.now = ev.time
    w.stats.events++
    ev.run()
    if (w.stats.events > MAX_EVENTS) { w.violate('event budget exhausted'); break }
    if (w.faultPhase && w.opsIssued >= params.world.steps) {
      // Heal everything: the liveness phase.
      w.faultPhase = false
      healedAt = w.now
      nemesis.heal()
      w.note('liveness phase')
      for (const n of w.members()) { n.slowUntil = 0; if (!n.alive) w.restart(n) }
      for (const n of w.nodes.values()) if (n.removed && n.alive) w.crash(n)
      w.startProbe()
    }
    if (!w.faultPhase && w.probe?.done === true && w.outstanding <= 0) break
    if (healedAt >= 0 && w.now > healedAt + livenessMs) {
      w.violate(`liveness: no commit within ${livenessMs} ms of healing (probe ${w.probe?.done === true ? 'done' : 'pending'}, ${w.outstanding} client ops outstanding; ${describeNodes(w)})`)
      break
    }
  }

  if (w.violations.length === 0) checkLogMatching(w)

  w.stats.virtualMs = w.now
  if (w.violations.length === 0 && options.checkLinearizability !== false && workload.check !== undefined) {
    // A timed-out write that no state machine applied by the end of the run was never
    // observed: it is equivalent to one placed after everything, so it is left out.
    const checked = w.history.filter(op => op.return !== Infinity || w.appliedCtx.has(w.opCtx.get(op) ?? ''))
    w.stats.unknownApplied = checked.filter(op => op.return === Infinity).length
    const result = workload.check(checked, { timeoutMs: options.checkTimeoutMs ?? 10_000 })
    w.stats.linearizability = result.ok
    if (result.ok === false) w.violate(result.violation ?? 'the history check failed')
  }

  return { ok: w.violations.length === 0, violations: w.violations, history: w.history, stats: w.stats, traceHash: w.traceHash, trace: w.trace }
}

/** Swarm testing: every seed draws its own fault intensities and profile. */
function drawParams<I, O> (options: SimulateOptions<I, O>, seed: number, clients: number): { world: WorldParams, nemesis: { everyMs: number, pIsolateOnWin: number, pIsolateOnCommit: number } } {
  const all: SimFaults = { drop: true, duplicate: true, delay: true, partitions: true, crashes: true, slowDisks: true, clockSkew: true, membership: true, snapshots: true }
  const faults: SimFaults = options.faults === 'none'
    ? { drop: false, duplicate: false, delay: false, partitions: false, crashes: false, slowDisks: false, clockSkew: false, membership: false, snapshots: false }
    : { ...all, ...options.faults }
  // Continued by World for its per-node draws (clock skew).
  const rSwarm = prng(seed ^ 0x56789ab)
  const pDrop = faults.drop ? rSwarm() * 0.15 : 0
  const pDup = faults.duplicate ? rSwarm() * 0.05 : 0
  const pLongDelay = faults.delay ? rSwarm() * 0.1 : 0
  // Profiles: most seeds mix every fault; some churn leaders fast (the shape of the paper's
  // Figure 8, as in the MIT 6.5840 tester); some have slow storage and lose power.
  const pr = rSwarm()
  const profile: SimProfile = options.profile ?? (!faults.crashes ? 'mixed' : pr < 0.5 ? 'mixed' : pr < 0.65 ? 'leader-churn' : pr < 0.8 ? 'slow-storage' : faults.partitions ? 'figure8' : 'mixed')
  const churny = profile === 'leader-churn' || profile === 'figure8'
  const everyMs = churny ? 60 + Math.floor(rSwarm() * 100) : 80 + Math.floor(rSwarm() * 250)
  const diskMs = profile === 'slow-storage' ? 5 + rSwarm() * 20 : 0.2 + rSwarm() * 4
  // figure8: exactly one entry per append and one append in flight, so that a returning
  // leader's earlier-term entries and its own no-op reach a follower in separate messages.
  const maxSizePerMsg = profile === 'figure8' ? 1 : profile === 'leader-churn' ? 128 : [128, 512, 4096][Math.floor(rSwarm() * 3)]!
  const maxInflightMsgs = churny ? 1 : [1, 4, 16, 256][Math.floor(rSwarm() * 4)]!
  // figure8: how often a new leader is cut off with a minority, and how often a leader is cut
  // off right after its commit index advances.
  const pIsolateOnWin = profile === 'figure8' ? 0.3 + rSwarm() * 0.5 : 0
  const pIsolateOnCommit = profile === 'figure8' ? 0.05 + rSwarm() * 0.3 : 0
  const snapshotEvery = faults.snapshots ? 10 + Math.floor(rSwarm() * 40) : 1_000_000
  return {
    world: {
      seed, faults, profile, steps: options.steps ?? 300, clients, pDrop, pDup, pLongDelay, diskMs, maxSizePerMsg, maxInflightMsgs, snapshotEvery,
      core: options.core, createCore: options.createCore ?? createRaftCore,
      swarmDraws: rSwarm
    },
    nemesis: { everyMs, pIsolateOnWin, pIsolateOnCommit }
  }
}

function describeNodes<I, O> (w: World<I, O>): string {
  return [...w.nodes.values()].map(n => `${n.id}${n.alive ? '' : '(down)'}${n.removed ? '(removed)' : ''} ${n.core.role} t${n.core.term} c${n.core.log.committed} a${n.applied} l${n.core.log.lastIndex()} v[${[...n.core.voters].join(',')}] L[${[...n.core.learners].join(',')}]`).join('; ')
}
