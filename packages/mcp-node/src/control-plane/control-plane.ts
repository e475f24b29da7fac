import { randomUUID } from 'node:crypto'
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { MemoryStorage, RaftNode } from '@p2p-mcp/consensus'
import type { ConfChange, LeaderChange, RaftStorage, RaftTransport } from '@p2p-mcp/consensus'
import { TypedEventEmitter } from 'main-event'
import type { PolicyConfig } from '../config.js'
import { policyCommandVersion } from '../policy.js'
import type { Logger } from '../logger.js'
import { noopLogger } from '../logger.js'
import { autopilot } from './autopilot.js'
import type { AutopilotAction, AutopilotConfig, AutopilotHealth } from './autopilot.js'
import type { ControlQuery, ControlRequest, ControlResponse, decodeRequest } from './control-codec.js'
import type { ControlLink } from './control-link.js'
import {
  CONTROL_DIR, DEFAULT_AUTOPILOT_INTERVAL_MS, DEFAULT_CONTROL_TIMEOUT_MS, DEFAULT_DEAD_VOTER_MS, DEFAULT_ELECTION_TICKS, DEFAULT_HEALTHY_CONTACT_MS,
  DEFAULT_MAX_LAG_ENTRIES, DEFAULT_MAX_LEARNERS, DEFAULT_MAX_VOTERS, DEFAULT_RAFT_TICK_MS, DEFAULT_STABILIZATION_MS, DEFAULT_TICK_INTERVAL_MS,
  ENVELOPE_VERSION, TICK_MODULE,
} from './constants.js'
import { encodeEnvelope } from './envelope.js'
import { ClusterMismatchError, CommandRejectedError, ControlPlaneHaltedError, ControlPlaneUnavailableError, NoQuorumError } from './errors.js'
import { KvModule } from './kv-module.js'
import { MembersModule } from './members-module.js'
import { PolicyModule, type ReplicatedPolicy } from './policy-module.js'
import { ReplicatedStateMachine } from './state-machine.js'
import { TrustModule, type TrustState } from './trust-module.js'
import { isRejection } from './types.js'
import type { MemberRole, ReplicatedModule } from './types.js'
import { errorMessage } from '../errors.js'

/** Options of the control plane (the `controlPlane` section of the config, plus what the node wires in). */
export interface ControlPlaneInit {
  /** This peer's id (the Raft node id). */
  self: string
  /** Take part in the control plane. When false the peer is a client: it reads and writes through members. @default true */
  enabled?: boolean
  /** May become a voter (false for stdio-only or ephemeral peers). @default true */
  voterEligible?: boolean
  /** Where `control/` lives; without it the group is kept in memory (tests, ephemeral peers). */
  dataDir?: string | undefined
  /** True when the peer was given bootstrap addresses: it then joins and never bootstraps alone. */
  hasBootstrap: boolean
  /** Peers worth asking to join through, best first (bootstrap peers, then connected peers). */
  joinCandidates: () => string[]
  /** Whether a libp2p connection to `peer` is open (health and the no-quorum error). */
  connected: (peer: string) => boolean
  /** This peer's listen addresses, recorded in the members module. */
  addrs?: () => string[]
  /** Sends control requests to other peers. */
  link: ControlLink
  /** Carries Raft messages (`/p2p-mcp/raft/1.0.0` in a peer; a MemoryNetwork in tests). */
  raftTransport: RaftTransport
  /**
   * Called with the peers Raft may talk to (voters, learners, active members, and the group
   * a joiner was told of) whenever they may have changed: the transport's member filter.
   */
  onRaftPeers?: (peers: string[]) => void
  /** Opens the Raft log store in `dir` (`<dataDir>/control/raft`), or in memory when there is no data dir. @default MemoryStorage */
  openStorage?: (dir: string | undefined) => Promise<RaftStorage>
  /** Policy that seeds the replicated one when this peer creates the group. */
  seedPolicy?: PolicyConfig
  /** Principals allowed to change the policy, seeded with it. @default [] */
  admins?: string[]
  /** Pinned voters instead of the autopilot's growth rules. */
  voters?: string[] | undefined
  /** @default 5 */
  maxVoters?: number
  /** @default 4 */
  maxLearners?: number
  /** @default 10000 */
  stabilizationMs?: number
  /** @default 30000 */
  deadVoterMs?: number
  /** @default 1000 */
  tickIntervalMs?: number
  /** Raft tick length; the election timeout is electionTicks of them, randomised up to twice. @default 100 */
  raftTickMs?: number
  /** @default 10 */
  electionTicks?: number
  /** How long a write or read waits for the group before NoQuorumError. @default 5000 */
  timeoutMs?: number
  /** Further modules (the scheduler's), registered before start. */
  modules?: ReplicatedModule[]
  /** @default Date.now */
  clock?: () => number
  logger?: Logger
}

export interface ControlPlaneEvents {
  /** The replicated policy changed (or was first read). */
  'policy': CustomEvent<ReplicatedPolicy>
  /** The known leader or term changed. */
  'leader': CustomEvent<{ leader: string, term: number }>
  /** The replica halted on an entry it does not understand. */
  'halted': CustomEvent<ControlPlaneHaltedError>
  /** The autopilot changed the configuration. */
  'membership': CustomEvent<{ action: AutopilotAction }>
}

export type ControlPhase = 'stopped' | 'joining' | 'member' | 'client' | 'halted'

/** What `mesh__control_status` shows. */
export interface ControlStatus {
  self: string
  enabled: boolean
  phase: ControlPhase
  cluster: string | null
  role: MemberRole
  leader: string
  term: number
  commit: number
  applied: number
  voters: string[]
  learners: string[]
  /** Entries each member is behind the leader (known on the leader). */
  lag: Record<string, number>
  members: Array<{ peerId: string, role: MemberRole, voterEligible: boolean, joinedAtMs: number, leftAtMs?: number }>
  policyVersion: number
  logTimeMs: number
  halted?: string
  lastAutopilot?: string
}

interface ClusterFile { cluster: string, createdBy: string, bootstrapped: boolean }

const CLUSTER_FILE = 'cluster.json'

/**
 * The control plane of one peer: a Raft group member (or a client of one) holding the
 * replicated state machine with the members, policy and kv modules (plus any modules added),
 * the autopilot on the leader, and the answers to `/p2p-mcp/control/1.0.0` requests.
 */
export class ControlPlane extends TypedEventEmitter<ControlPlaneEvents> {
  readonly self: string
  readonly sm: ReplicatedStateMachine
  readonly members = new MembersModule()
  readonly policyModule = new PolicyModule()
  readonly kv = new KvModule()
  /** Server-name pins and peer bans (decided by the policy module's admins). */
  readonly trust = new TrustModule(this.policyModule)
  private readonly init: ControlPlaneInit
  private readonly log: Logger
  private readonly clock: () => number
  private readonly timeoutMs: number
  private readonly autopilotConfig: AutopilotConfig
  private raft: RaftNode | undefined
  private storage: RaftStorage | undefined
  private clusterId: string | undefined
  private clusterFile: ClusterFile | undefined
  private phase: ControlPhase = 'stopped'
  private timers: Array<ReturnType<typeof setInterval>> = []
  private readonly health = new Map<string, AutopilotHealth & { match: number }>()
  private changing = false
  private lastTickMs = 0
  private lastAutopilot = ''
  private knownLeader = ''
  private knownVoters: string[] = []
  private clientPolicy: ReplicatedPolicy | undefined
  private seq = 0
  private readonly idPrefix = randomUUID().slice(0, 8)
  private joining = false
  /** Proposal latency samples in seconds, for the metrics. */
  onProposal?: (seconds: number, outcome: string) => void

  constructor (init: ControlPlaneInit) {
    super()
    this.init = init
    this.self = init.self
    this.log = init.logger ?? noopLogger
    this.clock = init.clock ?? Date.now
    this.timeoutMs = init.timeoutMs ?? DEFAULT_CONTROL_TIMEOUT_MS
    this.autopilotConfig = {
      maxVoters: init.maxVoters ?? DEFAULT_MAX_VOTERS,
      maxLearners: init.maxLearners ?? DEFAULT_MAX_LEARNERS,
      stabilizationMs: init.stabilizationMs ?? DEFAULT_STABILIZATION_MS,
      deadVoterMs: init.deadVoterMs ?? DEFAULT_DEAD_VOTER_MS,
      pinnedVoters: init.voters,
    }
    this.sm = new ReplicatedStateMachine({
      onHalt: (err) => { this.onHalt(err) },
    })
    this.sm.register(this.members)
    this.sm.register(this.policyModule)
    this.sm.register(this.kv)
    this.sm.register(this.trust)
    for (const m of init.modules ?? []) this.sm.register(m)
    this.policyModule.onChange((p) => { this.safeDispatchEvent('policy', { detail: p }) })
  }

  get enabled (): boolean { return this.init.enabled ?? true }
  get cluster (): string | undefined { return this.clusterId }
  get leader (): string { return this.raft?.leader ?? this.knownLeader }
  get isLeader (): boolean { return this.raft !== undefined && this.raft.leader === this.self && this.raft.status().role === 'leader' }
  get currentPhase (): ControlPhase { return this.phase }

  /** The replicated policy as this peer knows it (undefined until it has one). */
  get policy (): ReplicatedPolicy | undefined {
    if (this.inConf()) return this.policyModule.current.version > 0 ? this.policyModule.current : undefined
    return this.clientPolicy ?? (this.policyModule.current.version > 0 ? this.policyModule.current : undefined)
  }

  private controlDir (): string | undefined {
    return this.init.dataDir === undefined ? undefined : join(this.init.dataDir, CONTROL_DIR)
  }

  // ---------------------------------------------------------------- lifecycle

  async start (): Promise<void> {
    if (this.phase !== 'stopped') return
    const file = await this.readClusterFile()
    if (file !== undefined) {
      this.log.info({ cluster: file.cluster }, 'control plane: rejoining cluster from the data directory')
      await this.startRaft(file, false)
    } else if (!this.enabled) {
      this.phase = 'client'
    } else if (!this.init.hasBootstrap) {
      const created: ClusterFile = { cluster: randomUUID(), createdBy: this.self, bootstrapped: true }
      await this.writeClusterFile(created)
      this.log.info({ cluster: created.cluster }, 'control plane: no bootstrap peers, created a new single-voter group')
      await this.startRaft(created, true)
    } else {
      this.phase = 'joining'
    }
    this.every(1_000, () => { void this.joinRound() })
    this.every(DEFAULT_AUTOPILOT_INTERVAL_MS, () => { void this.leaderRound() })
    this.every(Math.max(100, Math.min(500, (this.init.tickIntervalMs ?? DEFAULT_TICK_INTERVAL_MS) / 2)), () => { void this.clientRound() })
    void this.joinRound()
  }

  async stop (): Promise<void> {
    for (const t of this.timers) clearInterval(t)
    this.timers = []
    if (this.phase !== 'halted') this.phase = 'stopped'
    await this.raft?.stop()
    await this.storage?.close()
    this.raft = undefined
    this.storage = undefined
  }

  private every (ms: number, f: () => void): void {
    const t = setInterval(f, ms)
    t.unref()
    this.timers.push(t)
  }

  private async readClusterFile (): Promise<ClusterFile | undefined> {
    const dir = this.controlDir()
    if (dir === undefined) return undefined
    try {
      const f = JSON.parse(await readFile(join(dir, CLUSTER_FILE), 'utf8')) as ClusterFile
      if (typeof f.cluster !== 'string' || f.cluster.length === 0) throw new Error('no cluster id')
      return f
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined
      throw new ControlPlaneUnavailableError(`${join(dir, CLUSTER_FILE)} is unreadable (${errorMessage(err)}): restore it from a backup or remove the control directory to join as a new member`, { cause: err })
    }
  }

  private async writeClusterFile (f: ClusterFile): Promise<void> {
    const dir = this.controlDir()
    if (dir === undefined) return
    await mkdir(dir, { recursive: true })
    const tmp = join(dir, `${CLUSTER_FILE}.tmp`)
    await writeFile(tmp, JSON.stringify(f))
    await rename(tmp, join(dir, CLUSTER_FILE))
  }

  private async startRaft (file: ClusterFile, create: boolean): Promise<void> {
    this.clusterFile = file
    this.clusterId = file.cluster
    const dir = this.controlDir()
    this.storage = this.init.openStorage === undefined ? new MemoryStorage() : await this.init.openStorage(dir === undefined ? undefined : join(dir, 'raft'))
    const empty = this.storage.lastIndex() === 0 && this.storage.initialState().conf.voters.length === 0
    this.raft = new RaftNode({
      id: this.self,
      storage: this.storage,
      transport: this.filtered(this.init.raftTransport),
      stateMachine: this.sm,
      tickMs: this.init.raftTickMs ?? DEFAULT_RAFT_TICK_MS,
      electionTicks: this.init.electionTicks ?? DEFAULT_ELECTION_TICKS,
      timeoutMs: this.timeoutMs,
      ...(create && empty ? { peers: [this.self] } : {}),
      logger: this.log,
    })
    this.raft.addEventListener('applied', () => { this.publishRaftPeers() })
    this.raft.addEventListener('leader', (evt) => {
      const e = evt as CustomEvent<LeaderChange>
      this.knownLeader = e.detail.leader
      this.health.clear()
      this.safeDispatchEvent('leader', { detail: e.detail })
    })
    this.publishRaftPeers()
    await this.raft.start()
    this.phase = this.sm.halted === undefined ? 'member' : 'halted'
    if (create && empty) this.raft.campaign()
  }

  private lastRaftPeers = ''

  private publishRaftPeers (): void {
    if (this.init.onRaftPeers === undefined) return
    const active = this.members.list().filter((m) => m.leftAtMs === undefined).map((m) => m.peerId)
    const peers = [...new Set([...this.inConfPeers(), ...active, ...this.knownVoters, ...(this.knownLeader === '' ? [] : [this.knownLeader])])].filter((p) => p !== this.self).sort()
    const key = peers.join(',')
    if (key === this.lastRaftPeers) return
    this.lastRaftPeers = key
    this.init.onRaftPeers(peers)
  }

  /** Raft messages from peers that are not in our group are dropped: two groups never merge. */
  private filtered (t: RaftTransport): RaftTransport {
    return {
      start: async (onMessage) => {
        await t.start((m) => {
          // Members that left (or were dropped by a force-new-cluster) are strangers too.
          const member = this.members.get(m.from)
          const known = this.inConfPeers().has(m.from) || (member !== undefined && member.leftAtMs === undefined)
          if (!known && this.inConf()) { this.log.debug('dropped a raft %s from %s: not a member of cluster %s', m.type, m.from, this.clusterId); return }
          onMessage(m)
        })
      },
      send: (messages) => { t.send(messages) },
      stop: async () => { await t.stop() },
    }
  }

  private inConfPeers (): Set<string> {
    const conf = this.raft?.status().conf
    return new Set(conf === undefined ? [] : [...conf.voters, ...conf.learners])
  }

  /** True when this peer holds a replica (voter or learner). */
  inConf (): boolean { return this.raft !== undefined && this.inConfPeers().has(this.self) }

  private onHalt (err: ControlPlaneHaltedError): void {
    this.log.error({ index: err.index }, err.message)
    this.phase = 'halted'
    this.safeDispatchEvent('halted', { detail: err })
    // Stop taking part: acknowledging entries this replica cannot apply would help no one.
    void this.raft?.stop()
  }

  // ---------------------------------------------------------------- joining and client polling

  /** A peer connected: a joiner need not wait for its next round to ask it. */
  nudge (): void {
    if (this.phase === 'joining' || (this.phase === 'client' && this.clusterId === undefined)) void this.joinRound()
  }

  private async joinRound (): Promise<void> {
    if (this.joining) return
    if (this.phase !== 'joining' && this.phase !== 'client' && !(this.phase === 'member' && !this.inConf())) return
    this.joining = true
    try {
      for (const peer of this.init.joinCandidates()) {
        if (peer === this.self) continue
        let res: ControlResponse
        try {
          res = await this.init.link.request(peer, {
            v: 1, type: 'join', cluster: this.clusterId ?? null, peerId: this.self,
            voterEligible: this.enabled && (this.init.voterEligible ?? true), addrs: this.init.addrs?.() ?? [],
          })
        } catch (err) {
          this.log.debug({ peer }, 'join through %s failed: %s', peer, errorMessage(err))
          continue
        }
        if (res.type === 'joined') {
          this.knownLeader = res.leader
          this.knownVoters = res.voters
          this.publishRaftPeers()
          if (this.phase === 'joining') {
            const file: ClusterFile = { cluster: res.cluster, createdBy: '', bootstrapped: false }
            await this.writeClusterFile(file)
            this.log.info({ cluster: res.cluster, through: peer }, 'control plane: joined; waiting to be added as a learner')
            await this.startRaft(file, false)
          } else {
            this.clusterId ??= res.cluster
          }
          return
        }
        if (res.type === 'error') this.log.debug({ peer }, 'join through %s refused: %s', peer, res.message)
      }
    } finally {
      this.joining = false
    }
  }

  private async clientRound (): Promise<void> {
    if (this.inConf() || this.clusterId === undefined) return
    try {
      const p = await this.remoteRead<ReplicatedPolicy>({ what: 'policy' }, false)
      if (p.version > 0 && p.version !== this.clientPolicy?.version) {
        this.clientPolicy = p
        this.safeDispatchEvent('policy', { detail: p })
      }
    } catch (err) {
      this.log.debug('client policy read failed: %s', errorMessage(err))
    }
  }

  // ---------------------------------------------------------------- the leader's round

  private async leaderRound (): Promise<void> {
    const raft = this.raft
    if (raft === undefined || this.phase !== 'member' || !this.isLeader) return
    const now = this.clock()
    const tickEvery = this.init.tickIntervalMs ?? DEFAULT_TICK_INTERVAL_MS
    if (now - this.lastTickMs >= tickEvery) {
      this.lastTickMs = now
      void this.proposeEnvelope(TICK_MODULE, 1, null, `tick:${this.self}:${now}`).catch(() => {})
    }
    if (this.changing) return
    const me = this.members.get(this.self)
    if (me === undefined || me.leftAtMs !== undefined) {
      this.changing = true
      try {
        // The first voter of a new group is not an entry of the log (it is the group's initial
        // configuration): write it as one, so that members replaying the log from index 1 know it.
        if (this.clusterFile?.bootstrapped === true && me === undefined) await raft.changeMembership({ type: 'addVoter', node: this.self })
        await this.propose('members', { op: 'join', peerId: this.self, voterEligible: this.init.voterEligible ?? true, addrs: this.init.addrs?.() ?? [] })
      } catch (err) {
        this.log.debug('recording this leader as a member failed: %s', errorMessage(err))
      } finally {
        this.changing = false
      }
      return
    }
    if (this.clusterFile?.bootstrapped === true && this.policyModule.current.version === 0) {
      const seed = this.init.seedPolicy ?? { default: 'allow' as const, rules: [] }
      void this.propose('policy', { op: 'seed', policy: seed, admins: this.init.admins ?? [], by: this.self }, { cv: policyCommandVersion(seed) }).catch(() => {})
    }
    this.updateHealth(now)
    const status = raft.status()
    const action = autopilot({
      nowMs: now,
      self: this.self,
      isLeader: true,
      pendingConfChange: false,
      voters: status.conf.voters,
      learners: status.conf.learners,
      members: this.members.list().map((m) => ({ peerId: m.peerId, voterEligible: m.voterEligible, active: m.leftAtMs === undefined, joinedAtMs: m.joinedAtMs })),
      health: this.health,
      config: this.autopilotConfig,
    })
    if (action.kind === 'none') {
      this.lastAutopilot = action.reason
      return
    }
    this.lastAutopilot = `${action.kind} ${action.node}: ${action.reason}`
    this.log.info({ action: action.kind, node: action.node }, 'autopilot: %s', action.reason)
    if (action.kind === 'transferLeader') { raft.transferLeader(action.node); return }
    this.changing = true
    try {
      await raft.changeMembership({ type: action.kind, node: action.node } satisfies ConfChange)
      const role: MemberRole = action.kind === 'addVoter' ? 'voter' : action.kind === 'addLearner' ? 'learner' : 'client'
      if (this.members.get(action.node) !== undefined) await this.propose('members', { op: 'role', peerId: action.node, role }).catch(() => {})
      this.safeDispatchEvent('membership', { detail: { action } })
      // One change at a time, but the next one need not wait for the timer.
      setTimeout(() => { void this.leaderRound() }, 0).unref()
    } catch (err) {
      this.log.warn('autopilot %s %s failed: %s', action.kind, action.node, errorMessage(err))
    } finally {
      this.changing = false
    }
  }

  /** Contact: a member is alive while its replication progresses and its connection is open. */
  private updateHealth (now: number): void {
    const status = this.raft!.status()
    const peers = new Set([...status.conf.voters, ...status.conf.learners, ...this.members.list().filter((m) => m.leftAtMs === undefined).map((m) => m.peerId)])
    for (const p of peers) {
      if (p === this.self) continue
      const pr = status.progress.get(p)
      let h = this.health.get(p)
      // A new leader (or a newly seen member) gives everyone a full grace period.
      if (h === undefined) { h = { lastContactMs: now, healthySinceMs: undefined, match: pr?.match ?? 0 }; this.health.set(p, h) }
      const connected = this.init.connected(p)
      const progressed = pr === undefined ? connected : pr.match > h.match || pr.match >= status.lastIndex - 1
      const caughtUp = pr === undefined || status.lastIndex - pr.match <= DEFAULT_MAX_LAG_ENTRIES
      if (connected && progressed) h.lastContactMs = now
      if (pr !== undefined) h.match = pr.match
      const ok = connected && caughtUp && now - h.lastContactMs <= DEFAULT_HEALTHY_CONTACT_MS
      if (ok && h.healthySinceMs === undefined) h.healthySinceMs = now
      if (!ok) h.healthySinceMs = undefined
    }
    for (const p of [...this.health.keys()]) if (!peers.has(p)) this.health.delete(p)
  }

  // ---------------------------------------------------------------- proposals and reads

  private nextId (): string {
    return `${this.self.slice(-12)}:${this.idPrefix}:${++this.seq}`
  }

  /**
   * Proposes a command of `module`; resolves with the module's result, or throws
   * CommandRejectedError for a typed rejection and NoQuorumError when the group cannot commit.
   * `id` makes a retry exactly-once (pass the same id again).
   */
  async propose (module: string, cmd: unknown, options: { id?: string, cv?: number } = {}): Promise<unknown> {
    const m = this.sm.module(module)
    const cv = options.cv ?? m?.version ?? 1
    const id = options.id ?? this.nextId()
    const started = performance.now()
    let outcome = 'ok'
    try {
      const result = this.inConf() ? await this.proposeEnvelope(module, cv, cmd, id) : await this.remotePropose(module, cv, cmd, id)
      if (isRejection(result)) { outcome = 'rejected'; throw new CommandRejectedError(result.error.name, result.error.message) }
      return result
    } catch (err) {
      if (outcome === 'ok') outcome = (err as Error).name === 'NoQuorumError' ? 'no_quorum' : 'error'
      throw err
    } finally {
      this.onProposal?.((performance.now() - started) / 1000, outcome)
    }
  }

  private async proposeEnvelope (module: string, cv: number, cmd: unknown, id: string): Promise<unknown> {
    const raft = this.raft
    if (raft === undefined) throw new ControlPlaneUnavailableError('this peer holds no replica of the control plane')
    if (this.sm.halted !== undefined) throw this.sm.halted
    const at = this.isLeader ? this.clock() : 0
    try {
      return await raft.propose(encodeEnvelope({ v: ENVELOPE_VERSION, id, module, cv, at, cmd }))
    } catch (err) {
      throw this.explain(err as Error, `write to ${module}`)
    }
  }

  private explain (err: Error, what: string): Error {
    if (err.name !== 'TimeoutError' && err.name !== 'ProposalDroppedError' && err.name !== 'NodeStoppedError') return err
    const voters = this.raft?.status().conf.voters ?? this.knownVoters
    const reachable = voters.filter((v) => v === this.self || this.init.connected(v))
    const unreachable = voters.filter((v) => !reachable.includes(v))
    return new NoQuorumError(what, { reachable, unreachable, needed: Math.floor(voters.length / 2) + 1, leader: this.leader }, { cause: err })
  }

  /** Reads `query`: linearizable (ReadIndex through the leader) unless `stale` is asked for. */
  async read<T = unknown> (query: ControlQuery, options: { stale?: boolean } = {}): Promise<T> {
    const linearizable = options.stale !== true
    if (!this.inConf()) return await this.remoteRead<T>(query, linearizable)
    if (linearizable) {
      if (this.sm.halted !== undefined) throw this.sm.halted
      try {
        await this.raft!.read()
      } catch (err) {
        throw this.explain(err as Error, 'linearizable read')
      }
    }
    return this.query(query) as T
  }

  private query (q: ControlQuery): unknown {
    switch (q.what) {
      case 'status': return this.status()
      case 'policy': return this.policyModule.current
      case 'members': return this.members.list()
      case 'kv': return this.kv.get(q.ns, q.key) ?? null
      case 'kvList': return this.kv.list(q.ns, q.prefix ?? '')
      case 'trust': return this.trust.current satisfies TrustState
      case 'snapshot': return { v: 1, cluster: this.clusterId, index: this.sm.appliedIndex, timeMs: this.sm.timeMs, snapshot: Buffer.from(this.sm.snapshot()).toString('base64') }
    }
  }

  /** Members to send a request to, best first: the leader, then voters, then join candidates. */
  private targets (): string[] {
    const out = [this.leader, ...this.knownVoters, ...this.init.joinCandidates()].filter((p) => p !== '' && p !== this.self)
    return [...new Set(out)]
  }

  private async remote (req: ControlRequest, what: string): Promise<ControlResponse> {
    let last: Error | undefined
    for (const peer of this.targets()) {
      let res: ControlResponse
      try {
        res = await this.init.link.request(peer, req)
      } catch (err) {
        last = err as Error
        continue
      }
      if (res.type === 'error') {
        if (res.name === 'ControlPlaneUnavailableError') { last = new ControlPlaneUnavailableError(res.message); continue }
        if (res.name === 'NoQuorumError') {
          const e = new NoQuorumError(what, { reachable: [], unreachable: [], needed: 0 })
          e.message = res.message
          throw e
        }
        throw new CommandRejectedError(res.name, res.message)
      }
      if ('cluster' in res && this.clusterId !== undefined && res.cluster !== this.clusterId) throw new ClusterMismatchError(this.clusterId, res.cluster, peer)
      return res
    }
    throw new NoQuorumError(what, { reachable: [], unreachable: this.targets(), needed: 1, leader: this.leader }, last === undefined ? undefined : { cause: last })
  }

  private async remotePropose (module: string, cv: number, cmd: unknown, id: string): Promise<unknown> {
    if (this.clusterId === undefined) throw new ControlPlaneUnavailableError('this peer has not joined a control-plane group yet: check its bootstrap addresses')
    const res = await this.remote({ v: 1, type: 'propose', cluster: this.clusterId, id, module, cv, cmd }, `write to ${module}`)
    if (res.type !== 'result') throw new ControlPlaneUnavailableError(`unexpected ${res.type} answer to a proposal`)
    return res.result
  }

  private async remoteRead<T> (query: ControlQuery, linearizable: boolean): Promise<T> {
    if (this.clusterId === undefined) throw new ControlPlaneUnavailableError('this peer has not joined a control-plane group yet: check its bootstrap addresses')
    const res = await this.remote({ v: 1, type: 'read', cluster: this.clusterId, linearizable, query }, 'read')
    if (res.type !== 'state') throw new ControlPlaneUnavailableError(`unexpected ${res.type} answer to a read`)
    return res.value as T
  }

  // ---------------------------------------------------------------- serving other peers

  /** Answers a `/p2p-mcp/control/1.0.0` request from `from`. */
  async handle (req: ReturnType<typeof decodeRequest>, from: string): Promise<ControlResponse> {
    const cluster = this.clusterId
    if (req.type === 'join' && cluster === undefined) return { v: 1, type: 'noCluster' }
    if (cluster === undefined || !this.inConf()) {
      return { v: 1, type: 'error', name: 'ControlPlaneUnavailableError', code: 'ERR_CONTROL_UNAVAILABLE', message: `${this.self} holds no replica of the control plane; ask a voter` }
    }
    const theirs = req.cluster
    if (theirs !== null && theirs !== cluster) {
      const err = new ClusterMismatchError(cluster, theirs, from)
      return { v: 1, type: 'error', name: err.name, code: err.code, message: err.message, cluster }
    }
    try {
      switch (req.type) {
        case 'join': {
          // The joiner's id is the authenticated connection's, never a field it sends.
          if (req.peerId !== from) throw new ControlPlaneUnavailableError(`join for ${req.peerId} arrived from ${from}: a peer joins for itself only`)
          const known = this.members.get(from)
          if (known === undefined || known.leftAtMs !== undefined || known.voterEligible !== req.voterEligible) {
            await this.propose('members', { op: 'join', peerId: from, voterEligible: req.voterEligible, addrs: req.addrs })
          }
          const conf = this.raft!.status().conf
          return { v: 1, type: 'joined', cluster, leader: this.leader, voters: conf.voters, learners: conf.learners }
        }
        case 'propose': {
          const result = await this.proposeEnvelope(req.module, req.cv, req.cmd, req.id)
          return { v: 1, type: 'result', cluster, result }
        }
        case 'read': {
          const value = await this.read(req.query, { stale: !req.linearizable })
          return { v: 1, type: 'state', cluster, index: this.sm.appliedIndex, value }
        }
      }
    } catch (err) {
      const e = err as Error & { code?: string }
      return { v: 1, type: 'error', name: e.name, code: e.code ?? 'ERR_CONTROL', message: e.message.slice(0, 8192), cluster }
    }
  }

  // ---------------------------------------------------------------- status

  status (): ControlStatus {
    const s = this.raft?.status()
    const conf = s?.conf ?? { voters: this.knownVoters, learners: [] }
    const lag: Record<string, number> = {}
    if (s !== undefined && s.role === 'leader') for (const [p, pr] of s.progress) lag[p] = Math.max(0, s.lastIndex - pr.match)
    const role: MemberRole = conf.voters.includes(this.self) ? 'voter' : conf.learners.includes(this.self) ? 'learner' : 'client'
    return {
      self: this.self,
      enabled: this.enabled,
      phase: this.phase,
      cluster: this.clusterId ?? null,
      role,
      leader: this.leader,
      term: s?.term ?? 0,
      commit: s?.commit ?? 0,
      applied: this.sm.appliedIndex,
      voters: [...conf.voters],
      learners: [...conf.learners],
      lag,
      members: this.members.list().map((m) => ({
        peerId: m.peerId,
        role: conf.voters.includes(m.peerId) ? 'voter' : conf.learners.includes(m.peerId) ? 'learner' : 'client',
        voterEligible: m.voterEligible,
        joinedAtMs: m.joinedAtMs,
        ...(m.leftAtMs === undefined ? {} : { leftAtMs: m.leftAtMs }),
      })),
      policyVersion: this.policy?.version ?? 0,
      logTimeMs: this.sm.timeMs,
      ...(this.sm.halted === undefined ? {} : { halted: this.sm.halted.message }),
      ...(this.lastAutopilot === '' ? {} : { lastAutopilot: this.lastAutopilot }),
    }
  }

  /** The leader's status when reachable (it alone knows each member's lag), else this peer's. */
  async leaderStatus (): Promise<ControlStatus & { from: string }> {
    if (this.isLeader || this.leader === '') return { ...this.status(), from: this.self }
    try {
      const res = await this.init.link.request(this.leader, { v: 1, type: 'read', cluster: this.clusterId ?? 'none', linearizable: false, query: { what: 'status' } })
      if (res.type === 'state') return { ...(res.value as ControlStatus), from: this.leader }
    } catch (err) {
      this.log.debug('leader status unavailable: %s', errorMessage(err))
    }
    return { ...this.status(), from: this.self }
  }
}

/** Throws NoQuorumError's name-compatible errors as they are; a typed shorthand for callers. */
export function isNoQuorum (err: unknown): err is NoQuorumError {
  return (err as Error | undefined)?.name === 'NoQuorumError'
}
