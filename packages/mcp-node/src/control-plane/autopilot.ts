/**
 * Autopilot: what the leader changes in the Raft configuration next, as a pure function of
 * what it knows (no clock, no I/O: `nowMs` and the health table are inputs), so every rule is
 * unit-tested and a decision can be replayed from a log line. One change at a time; the
 * caller applies it, waits for it to commit, and asks again.
 *
 * Rules, in order (the first that applies wins):
 * 1. Only a leader with no configuration change in flight acts.
 * 2. A member that left is removed from the configuration (a voter only when the voters that
 *    stay still hold a live majority).
 * 3. A voter unreachable for longer than `deadVoterMs` is replaced: first a healthy learner
 *    is promoted (the voter count may exceed `maxVoters` by one for this round), then the dead
 *    voter is removed once the live voters left are a majority of the new set. With no
 *    learner to promote, it is removed only while at least 3 voters remain (a mesh that
 *    shrinks keeps 3 voters, one of them dead, rather than 2 that both must live).
 * 4. Pinned voters (`pinnedVoters`): pinned peers are promoted, others demoted to learners;
 *    the leader hands over leadership first when it is not pinned itself. No growth rule.
 * 5. A voter that may not vote (ephemeral, stdio-only, control plane off) is demoted.
 * 6. A learner unreachable for longer than `deadVoterMs` is removed (it frees a slot).
 * 7. Eligible members that are not in the configuration become learners, up to
 *    `maxLearners` (earliest join first); the others stay clients (the bound on the leader's
 *    fan-out: it replicates to at most maxVoters + maxLearners peers).
 * 8. Growth: with an even number of voters, one healthy learner is promoted; from one voter,
 *    when two learners are healthy (1 → 3 at once, never resting at 2); from 3 or more, when
 *    two learners have been healthy for `stabilizationMs` and voters + 2 ≤ maxVoters.
 *
 * Ties: the candidate healthy the longest wins, then the earliest to join, then the smaller
 * peer id; of dead voters, the one silent the longest goes first, then the smaller peer id.
 */

export interface AutopilotConfig {
  /** Most voters. @default 5 */
  maxVoters: number
  /** Most learners; further members are clients. @default 4 */
  maxLearners: number
  /** How long a learner stays healthy before it is promoted beyond 3 voters. @default 10000 */
  stabilizationMs: number
  /** How long a voter (or learner) may be unreachable before it is replaced (or removed). @default 30000 */
  deadVoterMs: number
  /** Fixed voters instead of the growth rules. */
  pinnedVoters?: string[] | undefined
}

export interface AutopilotMember {
  peerId: string
  /** May vote: not ephemeral, not stdio-only, control plane enabled. */
  voterEligible: boolean
  /** False once it left the mesh. */
  active: boolean
  joinedAtMs: number
}

export interface AutopilotHealth {
  /** Last time (leader's clock) the peer showed it was alive and caught up. */
  lastContactMs: number
  /** Since when it has been healthy without interruption; undefined while unhealthy. */
  healthySinceMs: number | undefined
}

export interface AutopilotInput {
  nowMs: number
  self: string
  isLeader: boolean
  pendingConfChange: boolean
  voters: readonly string[]
  learners: readonly string[]
  members: readonly AutopilotMember[]
  health: ReadonlyMap<string, AutopilotHealth>
  config: AutopilotConfig
}

export type AutopilotAction =
  | { kind: 'none', reason: string }
  | { kind: 'addLearner' | 'addVoter' | 'removeNode' | 'transferLeader', node: string, reason: string }

const none = (reason: string): AutopilotAction => ({ kind: 'none', reason })
const majority = (n: number): number => Math.floor(n / 2) + 1
const byId = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0)

export function autopilot (input: AutopilotInput): AutopilotAction {
  const { nowMs, self, config } = input
  if (!input.isLeader) return none('not the leader')
  if (input.pendingConfChange) return none('a configuration change is in flight')
  const voters = [...input.voters]
  const learners = [...input.learners]
  const inConf = new Set([...voters, ...learners])
  const members = new Map(input.members.map((m) => [m.peerId, m]))
  const health = (p: string): AutopilotHealth => (p === self ? { lastContactMs: nowMs, healthySinceMs: 0 } : input.health.get(p) ?? { lastContactMs: nowMs, healthySinceMs: undefined })
  const healthy = (p: string): boolean => health(p).healthySinceMs !== undefined
  const stable = (p: string): boolean => { const s = health(p).healthySinceMs; return s !== undefined && nowMs - s >= config.stabilizationMs }
  const dead = (p: string): boolean => p !== self && nowMs - health(p).lastContactMs > config.deadVoterMs
  const pinned = config.pinnedVoters === undefined ? undefined : new Set(config.pinnedVoters)
  const eligible = (p: string): boolean => {
    const m = members.get(p)
    if (pinned !== undefined) return pinned.has(p)
    // A voter the members module does not know (a configuration from before it, or forced) keeps its vote.
    return m === undefined ? voters.includes(p) : m.active && m.voterEligible
  }
  const liveVoters = (set: string[]): number => set.filter((v) => !dead(v)).length
  const canRemoveVoter = (v: string): boolean => {
    const rest = voters.filter((x) => x !== v)
    return rest.length > 0 && liveVoters(voters) >= majority(voters.length) && liveVoters(rest) >= majority(rest.length)
  }
  const rank = (a: string, b: string): number => {
    const ha = health(a).healthySinceMs ?? Infinity
    const hb = health(b).healthySinceMs ?? Infinity
    if (ha !== hb) return ha - hb
    const ja = members.get(a)?.joinedAtMs ?? Infinity
    const jb = members.get(b)?.joinedAtMs ?? Infinity
    if (ja !== jb) return ja - jb
    return byId(a, b)
  }
  const candidates = learners.filter((l) => eligible(l) && healthy(l) && !dead(l)).sort(rank)

  // 2. Members that left.
  for (const p of [...voters, ...learners].sort(byId)) {
    const m = members.get(p)
    if (m === undefined || m.active || p === self) continue
    if (learners.includes(p)) return { kind: 'removeNode', node: p, reason: `${p} left the mesh` }
    if (canRemoveVoter(p)) return { kind: 'removeNode', node: p, reason: `voter ${p} left the mesh` }
  }

  // 3. Dead voters.
  const deadVoters = voters.filter(dead).sort((a, b) => (health(a).lastContactMs - health(b).lastContactMs) || byId(a, b))
  if (deadVoters.length > 0) {
    const d = deadVoters[0]!
    const silentS = Math.round((nowMs - health(d).lastContactMs) / 1000)
    const replacement = candidates[0]
    // From an odd count (the normal state) promote first, then remove: the live voters never
    // drop below a majority in between. From an even count the next step is the removal.
    if (replacement !== undefined && pinned === undefined && voters.length % 2 === 1 && liveVoters(voters) + 1 >= majority(voters.length + 1)) {
      return { kind: 'addVoter', node: replacement, reason: `replacing voter ${d}, unreachable for ${silentS} s` }
    }
    if (canRemoveVoter(d) && (voters.length - 1 >= 3 || pinned !== undefined)) {
      return { kind: 'removeNode', node: d, reason: `voter ${d} unreachable for ${silentS} s` }
    }
  }

  // 4. Pinned voters.
  if (pinned !== undefined) {
    if (!pinned.has(self)) {
      const to = voters.filter((v) => pinned.has(v) && healthy(v)).sort(byId)[0]
      return to === undefined ? none('this leader is not pinned, and no pinned voter is healthy to take over') : { kind: 'transferLeader', node: to, reason: `${self} is not a pinned voter` }
    }
    const promote = learners.filter((l) => pinned.has(l) && healthy(l)).sort(byId)[0]
    if (promote !== undefined) return { kind: 'addVoter', node: promote, reason: `${promote} is a pinned voter` }
    const demote = voters.filter((v) => !pinned.has(v)).sort(byId)[0]
    if (demote !== undefined && canRemoveVoter(demote)) return { kind: 'addLearner', node: demote, reason: `${demote} is not a pinned voter` }
  } else {
    // 5. Voters that may not vote.
    const unfit = voters.filter((v) => v !== self && !eligible(v)).sort(byId)[0]
    if (unfit !== undefined && canRemoveVoter(unfit)) return { kind: 'addLearner', node: unfit, reason: `${unfit} may not vote (ephemeral, stdio-only or control plane off)` }
  }

  // 6. Dead learners.
  const deadLearner = learners.filter(dead).sort(byId)[0]
  if (deadLearner !== undefined) return { kind: 'removeNode', node: deadLearner, reason: `learner ${deadLearner} unreachable for more than ${Math.round(config.deadVoterMs / 1000)} s` }

  // 7. New learners.
  if (learners.length < config.maxLearners) {
    const next = input.members
      .filter((m) => m.active && m.voterEligible && !inConf.has(m.peerId) && !dead(m.peerId))
      .sort((a, b) => (a.joinedAtMs - b.joinedAtMs) || byId(a.peerId, b.peerId))[0]
    if (next !== undefined) return { kind: 'addLearner', node: next.peerId, reason: `${next.peerId} joined the mesh` }
  }

  // 8. Growth.
  if (pinned !== undefined) return none('voters are pinned')
  const n = voters.length
  if (n >= config.maxVoters) return none(`${n} voters, the most allowed (maxVoters)`)
  if (n % 2 === 0) {
    return candidates[0] === undefined ? none(`${n} voters (even) and no healthy learner`) : { kind: 'addVoter', node: candidates[0], reason: `completing an odd number of voters (${n} → ${n + 1})` }
  }
  if (n < 3) {
    return candidates.length >= 2 ? { kind: 'addVoter', node: candidates[0]!, reason: `growing to 3 voters (${candidates.length} healthy learners)` } : none(`${n} voter(s); growing to 3 needs 2 healthy learners, ${candidates.length} now`)
  }
  const ready = candidates.filter(stable)
  if (n + 2 > config.maxVoters) return none(`${n} voters; ${n + 2} would exceed maxVoters ${config.maxVoters}`)
  return ready.length >= 2 ? { kind: 'addVoter', node: ready[0]!, reason: `growing to ${n + 2} voters (${ready.length} learners healthy for ${config.stabilizationMs} ms)` } : none(`${n} voters; growing needs 2 learners healthy for ${config.stabilizationMs} ms, ${ready.length} now`)
}
