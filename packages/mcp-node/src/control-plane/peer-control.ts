import type { Libp2p } from '@libp2p/interface'
import type { RaftStorage, RaftTransport } from '@p2p-mcp/consensus'
import { MemoryStorage } from '@p2p-mcp/consensus'
import { Libp2pRaftTransport, libp2pRaftTransport } from '@p2p-mcp/consensus/libp2p'
import { FileStorage } from '@p2p-mcp/consensus/node'
import type { CallToolResult, Tool } from '@modelcontextprotocol/sdk/types.js'
import { Counter, Gauge, Histogram, type Registry } from 'prom-client'
import { z } from 'zod'
import { PolicySchema, type PolicyConfig } from '../config.js'
import type { Logger } from '../logger.js'
import type { BuiltinResource, BuiltinTool } from '../mesh-tools.js'
import type { NodeModule, NodeModuleFactory } from '../module.js'
import { childOf } from '../logger.js'
import { firstIssue } from './codec-json.js'
import type { ControlPlaneConfig } from './config-schema.js'
import { DEFAULT_RAFT_TICK_MS } from './constants.js'
import { libp2pControlLink, serveControl } from './control-link.js'
import { ControlPlane } from './control-plane.js'
import type { LayeredPolicy } from './layered-policy.js'
import { isAdmin, type ReplicatedPolicy } from './policy-module.js'
import { legacyPrincipalWarning, policyCommandVersion } from '../policy.js'
import type { ReplicatedModule } from './types.js'

/** What the node passes to the control-plane module besides its components. */
export interface ControlPlaneModuleInit {
  config: ControlPlaneConfig
  dataDir: string | undefined
  /** Peer ids of the bootstrap addresses. */
  bootstrapPeers: string[]
  /** The peer serves only a stdio front door: it is ephemeral (never a voter). */
  stdioOnly: boolean
  /** The policy of this peer's config: it seeds the replicated one when this peer creates the group. */
  localPolicy: PolicyConfig
  /** What `tools/call` checks; receives the replicated policy. */
  policy: LayeredPolicy
  metrics: Registry
  modules?: ReplicatedModule[]
  /** Raft log store; `<dataDir>/control/raft` is passed (undefined without a data dir). @default FileStorage there, memory without a data dir */
  openStorage?: (dir: string | undefined) => Promise<RaftStorage>
  /** Called once the control plane started: how other modules (the scheduler) reach it to propose and read. */
  onStarted?: (plane: ControlPlane) => void
  /** Raft transport. @default `@p2p-mcp/consensus/libp2p` on this peer's libp2p node */
  raftTransport?: RaftTransport
  /** Hands the control plane to features that propose and read through it (the scheduler). */
  onPlane?: (plane: ControlPlane) => void
}

export interface PeerControlInit extends ControlPlaneModuleInit {
  libp2p: Libp2p
  logger: Logger
}

const PolicySetArgs = z.strictObject({
  policy: PolicySchema.optional(),
  admins: z.array(z.string().min(1).max(256)).max(64).optional(),
  expectVersion: z.number().int().min(0).optional(),
})

const TOOLS: Tool[] = [
  {
    name: 'mesh__control_status',
    title: 'Control plane status',
    description: 'The mesh\'s control plane (a Raft group of peers): cluster id, leader, term, voters, learners, commit index, log time, lag of each member behind the leader, members with roles and join times, policy version.',
    inputSchema: { type: 'object', properties: {} },
    annotations: { readOnlyHint: true, idempotentHint: true, openWorldHint: false },
  },
  {
    name: 'mesh__policy_get',
    title: 'Get the mesh policy',
    description: 'The replicated allow/deny policy enforced on tools/call at every peer, with its version and admins (a linearizable read). Admins only.',
    inputSchema: { type: 'object', properties: {} },
    annotations: { readOnlyHint: true, idempotentHint: true, openWorldHint: false },
  },
  {
    name: 'mesh__policy_set',
    title: 'Change the mesh policy',
    description: 'Replaces the replicated policy ({ default: "allow"|"deny", rules: [{ principal, scopes?, allow?, deny?, resources?: { allow?, deny? }, prompts?: { allow?, deny? } }], limits?: [{ principal, server?, requestsPerMinute?, burst?, maxConcurrent? }], servers?: { <name>: { requestsPerMinute?, burst?, maxConcurrentExecutions? } } }) and/or its admins; enforced at every peer once committed. expectVersion makes it a compare-and-set. Admins only.',
    inputSchema: {
      type: 'object',
      properties: {
        policy: { type: 'object', properties: { default: { type: 'string', enum: ['allow', 'deny'] }, rules: { type: 'array', items: { type: 'object' } }, limits: { type: 'array', items: { type: 'object' } }, servers: { type: 'object' } } },
        admins: { type: 'array', items: { type: 'string' } },
        expectVersion: { type: 'integer', minimum: 0 },
      },
    },
    annotations: { readOnlyHint: false, idempotentHint: false, destructiveHint: true, openWorldHint: false },
  },
  {
    name: 'mesh__control_snapshot',
    title: 'Back up the control plane',
    description: 'A snapshot of the control plane\'s replicated state (members, policy, kv and every module) after a linearizable read, for `p2p-mcp control force-new-cluster --from <backup>`. Admins only.',
    inputSchema: { type: 'object', properties: {} },
    annotations: { readOnlyHint: true, idempotentHint: true, openWorldHint: false },
  },
]

function result (value: unknown, isError = false): CallToolResult {
  return {
    content: [{ type: 'text', text: JSON.stringify(value, null, 2) }],
    ...(isError ? { isError: true } : { structuredContent: value as Record<string, unknown> }),
  }
}

function errorResult (err: Error): CallToolResult {
  return result({ error: err.name, message: err.message }, true)
}

/** The control plane as a peer runs it: libp2p protocols, storage, metrics, MCP tools and resources. */
export class PeerControl {
  readonly plane: ControlPlane
  private readonly init: PeerControlInit
  private readonly log: Logger
  private unserve: (() => Promise<void>) | undefined

  constructor (init: PeerControlInit) {
    this.init = init
    this.log = childOf(init.logger, { component: 'control' })
    const node = init.libp2p
    const self = node.peerId.toString()
    const c = init.config
    const bootstrap = init.bootstrapPeers
    const openStorage = init.openStorage ?? (async (dir: string | undefined) => (dir === undefined ? new MemoryStorage() : await FileStorage.open({ dir, logger: childOf(this.log, { component: 'wal' }) })))
    const timedStorage = async (dir: string | undefined): Promise<RaftStorage> => this.timed(await openStorage(dir))
    const transport = init.raftTransport ?? libp2pRaftTransport(node, { members: [], logger: childOf(this.log, { component: 'raft-transport' }) })
    this.plane = new ControlPlane({
      self,
      enabled: c.enabled,
      voterEligible: !c.ephemeral && !init.stdioOnly,
      dataDir: init.dataDir,
      hasBootstrap: bootstrap.length > 0,
      // Connected peers only, bootstrap peers first: a dial by peer id alone would wait on a
      // peer-routing lookup, and libp2p merges it with the bootstrapper's dial of the same peer.
      joinCandidates: () => {
        const connected = new Set(node.getPeers().map((p) => p.toString()))
        return [...new Set([...bootstrap.filter((b) => connected.has(b)), ...connected])]
      },
      connected: (peer) => node.getPeers().some((p) => p.toString() === peer),
      addrs: () => node.getMultiaddrs().map((a) => a.toString()).slice(0, 16),
      link: libp2pControlLink(node, { timeoutMs: c.timeoutMs }),
      raftTransport: transport,
      onRaftPeers: (peers) => { if (transport instanceof Libp2pRaftTransport) transport.setMembers(peers) },
      openStorage: timedStorage,
      seedPolicy: init.localPolicy,
      admins: c.admins,
      voters: c.voters,
      maxVoters: c.maxVoters,
      maxLearners: c.maxLearners,
      stabilizationMs: c.stabilizationMs,
      deadVoterMs: c.deadVoterMs,
      tickIntervalMs: c.tickIntervalMs,
      raftTickMs: DEFAULT_RAFT_TICK_MS,
      electionTicks: Math.max(2, Math.round(c.electionTimeoutMs / DEFAULT_RAFT_TICK_MS)),
      timeoutMs: c.timeoutMs,
      ...(init.modules === undefined ? {} : { modules: init.modules }),
      logger: this.log,
    })
    this.plane.addEventListener('policy', (e) => { this.install(e.detail) })
    this.metrics(init.metrics)
  }

  private install (p: ReplicatedPolicy): void {
    if (p.version === 0) return
    this.init.policy.setReplicated(p.policy, p.version, p.admins)
    this.log.info({ version: p.version, by: p.updatedBy }, 'replicated policy installed')
    const legacy = legacyPrincipalWarning(p.policy, p.admins)
    if (legacy !== undefined) this.log.warn({ version: p.version }, `replicated ${legacy}`)
  }

  private fsync: Histogram | undefined

  /** Times every durable write of the Raft log (the fsync-time metric). */
  private timed (s: RaftStorage): RaftStorage {
    const persist = s.persist.bind(s)
    s.persist = async (batch, options) => {
      const started = performance.now()
      try { await persist(batch, options) } finally { if (options.sync) this.fsync?.observe((performance.now() - started) / 1000) }
    }
    return s
  }

  private metrics (registry: Registry): void {
    const registers = [registry]
    const plane = this.plane
    new Gauge({ name: 'p2p_mcp_control_term', help: 'Raft term of the control plane as this peer knows it', registers, collect () { this.set(plane.status().term) } })
    new Gauge({ name: 'p2p_mcp_control_is_leader', help: '1 when this peer leads the control plane', registers, collect () { this.set(plane.isLeader ? 1 : 0) } })
    new Gauge({ name: 'p2p_mcp_control_commit_index', help: 'Commit index of the control plane log here', registers, collect () { this.set(plane.status().commit) } })
    new Gauge({
      name: 'p2p_mcp_control_commit_lag', help: 'Entries a member is behind the leader (on the leader, per member)', labelNames: ['member'], registers,
      collect () { this.reset(); for (const [m, lag] of Object.entries(plane.status().lag)) this.set({ member: m }, lag) },
    })
    new Gauge({ name: 'p2p_mcp_control_apply_lag', help: 'Committed entries not applied here yet', registers, collect () { const s = plane.status(); this.set(Math.max(0, s.commit - s.applied)) } })
    const leaderChanges = new Counter({ name: 'p2p_mcp_control_leader_changes_total', help: 'Leader changes seen by this peer', registers })
    plane.addEventListener('leader', () => { leaderChanges.inc() })
    const latency = new Histogram({
      name: 'p2p_mcp_control_proposal_duration_seconds', help: 'Control plane proposals from this peer, until applied (or refused), by outcome', labelNames: ['outcome'], registers,
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    })
    plane.onProposal = (seconds, outcome) => { latency.observe({ outcome }, seconds) }
    this.fsync = new Histogram({
      name: 'p2p_mcp_control_fsync_duration_seconds', help: 'Durable writes of the control plane log (one per batch)', registers,
      buckets: [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1],
    })
  }

  private readonly onConnect = (): void => { this.plane.nudge() }

  async start (): Promise<void> {
    this.init.libp2p.addEventListener('peer:connect', this.onConnect)
    this.unserve = await serveControl(this.init.libp2p, async (req, from) => await this.plane.handle(req, from), { logger: this.log, timeoutMs: this.init.config.timeoutMs })
    await this.plane.start()
    this.init.onStarted?.(this.plane)
  }

  async stop (): Promise<void> {
    this.init.libp2p.removeEventListener('peer:connect', this.onConnect)
    await this.unserve?.().catch(() => {})
    await this.plane.stop()
  }

  /** The built-in tools this module adds to the `mesh` server. */
  builtinTools (): BuiltinTool[] {
    return TOOLS.map((tool) => ({ tool, call: async (args, ctx) => await this.callTool(tool.name, args, ctx.principal) }))
  }

  builtinResources (): BuiltinResource[] {
    return [{
      resource: { uri: 'mesh://control', name: 'mesh__control', title: 'Control plane status', mimeType: 'application/json' },
      read: () => ({ contents: [{ uri: 'mesh://control', mimeType: 'application/json', text: JSON.stringify(this.plane.status(), null, 2) }] }),
    }]
  }

  healthReasons (): string[] {
    const s = this.plane.status()
    if (s.halted !== undefined) return [`control plane halted: ${s.halted}`]
    if (s.phase === 'joining') return ['control plane: not joined yet (no bootstrap peer answered with its group)']
    return []
  }

  async callTool (name: string, args: Record<string, unknown> | undefined, principal: string): Promise<CallToolResult> {
    try {
      switch (name) {
        case 'mesh__control_status': return result(await this.plane.leaderStatus())
        case 'mesh__policy_get':
        case 'mesh__control_snapshot': {
          const p = await this.plane.read<ReplicatedPolicy>({ what: 'policy' })
          if (!isAdmin(p, principal)) {
            return result({ error: 'NotAdminError', message: `principal ${JSON.stringify(principal)} is not a policy admin` }, true)
          }
          return result(name === 'mesh__policy_get' ? p : await this.plane.read({ what: 'snapshot' }, { stale: true }))
        }
        case 'mesh__policy_set': {
          const parsed = PolicySetArgs.safeParse(args ?? {})
          if (!parsed.success) return result({ error: 'InvalidArgumentsError', message: `mesh__policy_set: ${firstIssue(parsed.error)}` }, true)
          const r = await this.plane.propose('policy', { op: 'set', principal, ...parsed.data }, { cv: parsed.data.policy === undefined ? 1 : policyCommandVersion(parsed.data.policy) })
          return result(r)
        }
      }
      return result({ error: 'UnknownToolError', message: `${name} is not a control-plane tool` }, true)
    } catch (err) {
      return errorResult(err as Error)
    }
  }
}

/**
 * The control plane as a node module: a Raft group of peers holding membership, policy and a
 * key-value store (see docs/architecture.md). Adds `mesh__control_status`,
 * `mesh__policy_get`, `mesh__policy_set` and `mesh://control`; installs the replicated
 * policy into the policy the node enforces on `tools/call`.
 */
export function controlPlane (init: ControlPlaneModuleInit): NodeModuleFactory {
  return (components): NodeModule => {
    const pc = new PeerControl({ ...init, libp2p: components.libp2p, logger: components.logger })
    init.onPlane?.(pc.plane)
    return {
      name: 'control-plane',
      tools: pc.builtinTools(),
      resources: pc.builtinResources(),
      start: async () => { await pc.start() },
      stop: async () => { await pc.stop() },
      healthReasons: () => pc.healthReasons(),
    }
  }
}
