import { peerIdFromString } from '@libp2p/peer-id'
import type { CallToolResult, Tool } from '@modelcontextprotocol/sdk/types.js'
import { Counter, Gauge, type Registry } from 'prom-client'
import { z } from 'zod'
import { firstIssue } from '../control-plane/codec-json.js'
import type { ControlPlane } from '../control-plane/control-plane.js'
import { own, type TrustState } from '../control-plane/trust-module.js'
import { errorMessage } from '../errors.js'
import { childOf, type Logger } from '../logger.js'
import type { BuiltinResource, BuiltinTool, NodeComponents, NodeModule, NodeModuleFactory } from '../module.js'
import { pinHash, pinTools, type FirstUseCandidate, type ServerTrust } from './server-trust.js'

/** How often a peer that holds no replica reads the trust state (pins and bans) from the group. */
const CLIENT_POLL_MS = 1_000
/** How long after a failed first-use proposal it is tried again. */
const RETRY_MS = 1_000

const serverName = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/, 'a server name: 1 to 64 letters, digits, . _ -')
const peerIdArg = z.string().min(1).max(128).refine((id) => { try { peerIdFromString(id); return true } catch { return false } }, 'a peer id (12D3Koo…)')

const PinArgs = z.strictObject({
  server: serverName,
  hash: z.string().regex(/^[0-9a-f]{64}$/, 'a sha256 hex digest (64 hex digits)').optional(),
  fromPeer: peerIdArg.optional(),
  publishers: z.array(peerIdArg).min(1).max(64).nullable().optional(),
  expectRevision: z.number().int().min(0).optional(),
})
const UnpinArgs = z.strictObject({ server: serverName })
const BanArgs = z.strictObject({ peerId: peerIdArg, reason: z.string().max(512).optional() })
const UnbanArgs = z.strictObject({ peerId: peerIdArg })

const admin = { readOnlyHint: false, idempotentHint: true, destructiveHint: true, openWorldHint: false }

const TOOLS: Tool[] = [
  {
    name: 'mesh__trust_get',
    title: 'Server-name pins and bans',
    description: 'The server-name pins (name → pinned definition hash, tools with schema hashes, allowed publishers) and peer bans of the mesh, this peer\'s trust config, the names held until the control plane pins them, and the providers refused here (with why).',
    inputSchema: { type: 'object', properties: {} },
    annotations: { readOnlyHint: true, idempotentHint: true, openWorldHint: false },
  },
  {
    name: 'mesh__trust_pin',
    title: 'Pin a server name',
    description: 'Pins a server name to a definition (hash, or fromPeer: the definition that peer announces now: the upgrade path to a new schema) and/or to the peer ids allowed to serve it (publishers; null lifts the restriction). Other definitions and other peers are then refused mesh-wide. expectRevision makes it a compare-and-set. Admins only.',
    inputSchema: {
      type: 'object',
      properties: {
        server: { type: 'string' },
        hash: { type: 'string', description: 'pin hash (64 hex digits), as mesh__trust_get shows' },
        fromPeer: { type: 'string', description: 'take the hash from what this peer announces for the server now' },
        publishers: { type: ['array', 'null'], items: { type: 'string' } },
        expectRevision: { type: 'integer', minimum: 0 },
      },
      required: ['server'],
    },
    annotations: admin,
  },
  {
    name: 'mesh__trust_unpin',
    title: 'Unpin a server name',
    description: 'Removes a server name\'s pin: the next definition the log sees is pinned on first use again. Admins only.',
    inputSchema: { type: 'object', properties: { server: { type: 'string' } }, required: ['server'] },
    annotations: admin,
  },
  {
    name: 'mesh__peer_ban',
    title: 'Ban a peer',
    description: 'Bans a peer id mesh-wide: every peer refuses its connections (and closes open ones) and ignores its registry records. Admins only.',
    inputSchema: { type: 'object', properties: { peerId: { type: 'string' }, reason: { type: 'string' } }, required: ['peerId'] },
    annotations: admin,
  },
  {
    name: 'mesh__peer_unban',
    title: 'Lift a peer ban',
    description: 'Lifts a mesh-wide ban of a peer id. Admins only.',
    inputSchema: { type: 'object', properties: { peerId: { type: 'string' } }, required: ['peerId'] },
    annotations: admin,
  },
]

function result (value: unknown, isError = false): CallToolResult {
  return {
    content: [{ type: 'text', text: JSON.stringify(value, null, 2) }],
    ...(isError ? { isError: true } : { structuredContent: value as Record<string, unknown> }),
  }
}

export interface TrustFeatureInit {
  trust: ServerTrust
  metrics: Registry
}

export interface TrustFeature {
  /** Hands the control plane over (the control-plane module's `onPlane`). */
  attach: (plane: ControlPlane) => void
  factory: NodeModuleFactory
}

/**
 * Server-name trust and revocation as a node feature: follows the control plane's trust state
 * (events on a replica, polling on a client), proposes first-use pins for held names, hangs up
 * on banned peers, adds the `mesh__trust_*` and `mesh__peer_*ban` tools, and the metrics.
 */
export function trustFeature (init: TrustFeatureInit): TrustFeature {
  let plane: ControlPlane | undefined
  return {
    attach: (p) => { plane = p },
    factory: (components) => new PeerTrust(init, () => plane, components).module(),
  }
}

class PeerTrust {
  private readonly trust: ServerTrust
  private readonly getPlane: () => ControlPlane | undefined
  private readonly c: NodeComponents
  private readonly log: Logger
  private readonly proposing = new Set<string>()
  private readonly timers = new Set<ReturnType<typeof setTimeout>>()
  private readonly unsubscribe: Array<() => void> = []
  private poller: ReturnType<typeof setInterval> | undefined
  private stopped = false

  constructor (init: TrustFeatureInit, getPlane: () => ControlPlane | undefined, components: NodeComponents) {
    this.trust = init.trust
    this.getPlane = getPlane
    this.c = components
    this.log = childOf(components.logger, { component: 'trust' })
    this.metrics(init.metrics)
  }

  module (): NodeModule {
    return {
      name: 'trust',
      tools: TOOLS.map((tool): BuiltinTool => ({ tool, call: async (args, ctx) => await this.callTool(tool.name, args, ctx.principal) })),
      resources: [this.resource()],
      start: () => { this.start(); return Promise.resolve() },
      stop: () => { this.stop(); return Promise.resolve() },
      healthReasons: () => {
        const held = this.trust.held
        return held.length === 0 ? [] : [`server names not served until the control plane pins them: ${held.map((h) => h.server).join(', ')}`]
      },
    }
  }

  private metrics (registry: Registry): void {
    const registers = [registry]
    const trust = this.trust
    const refusals = new Counter({
      name: 'p2p_mcp_trust_refusals_total',
      help: 'Distinct providers refused as replicas of a server name (once per provider, name, definition and reason); server is "other" for names not pinned mesh-wide',
      labelNames: ['server', 'reason'],
      registers,
    })
    trust.onRefusal((r) => { refusals.inc({ server: own(trust.state.pins, r.server) === undefined ? 'other' : r.server, reason: r.reason }) })
    new Gauge({
      name: 'p2p_mcp_trust_refused_providers', help: 'Provider entries refused now, by reason (banned, publisher, hash)', labelNames: ['reason'], registers,
      collect () {
        this.reset()
        const n = { banned: 0, publisher: 0, hash: 0 }
        for (const r of trust.refused) n[r.reason]++
        for (const [reason, v] of Object.entries(n)) this.set({ reason }, v)
      },
    })
    new Gauge({ name: 'p2p_mcp_trust_held_servers', help: 'Server names not served until the control plane pins them', registers, collect () { this.set(trust.held.length) } })
    new Gauge({ name: 'p2p_mcp_trust_pins', help: 'Server names pinned mesh-wide (as installed here)', registers, collect () { this.set(Object.keys(trust.state.pins).length) } })
    new Gauge({ name: 'p2p_mcp_trust_banned_peers', help: 'Peers banned mesh-wide (as installed here)', registers, collect () { this.set(Object.keys(trust.state.bans).length) } })
  }

  private start (): void {
    const plane = this.getPlane()
    this.unsubscribe.push(this.trust.onChange(() => { this.changed() }))
    this.unsubscribe.push(this.trust.onHeld((held) => { this.propose(held) }))
    if (plane !== undefined) {
      this.unsubscribe.push(plane.trust.onChange((s) => { this.install(s) }))
      this.install(plane.trust.current)
      this.poller = setInterval(() => { void this.poll() }, CLIENT_POLL_MS)
      this.poller.unref()
    }
  }

  private stop (): void {
    this.stopped = true
    clearInterval(this.poller)
    for (const t of this.timers) clearTimeout(t)
    this.timers.clear()
    for (const u of this.unsubscribe.splice(0)) u()
  }

  private install (s: TrustState): void {
    if (this.trust.setReplicated(s)) this.log.info({ version: s.version, pins: Object.keys(s.pins).length, bans: Object.keys(s.bans).length }, 'trust state installed')
  }

  /** A peer without a replica (a client, a learner not added yet) reads the state from the group. */
  private async poll (): Promise<void> {
    const plane = this.getPlane()
    if (plane === undefined || plane.inConf() || plane.cluster === undefined) return
    try {
      this.install(await plane.read<TrustState>({ what: 'trust' }, { stale: true }))
    } catch (err) {
      this.log.debug('trust state read failed: %s', errorMessage(err))
    }
  }

  /** The installed state changed: hang up on banned peers and re-filter the providers. */
  private changed (): void {
    for (const p of this.c.libp2p.getPeers()) {
      if (!this.trust.isBanned(p.toString())) continue
      this.log.warn({ peer: p.toString() }, 'closing the connections of banned peer %s', p.toString())
      void this.c.libp2p.hangUp(p).catch(() => {})
    }
    this.c.router.scheduleUpdate()
  }

  /** Proposes a first-use pin for each held name not being proposed already (retried while held). */
  private propose (held: readonly FirstUseCandidate[]): void {
    const plane = this.getPlane()
    if (plane === undefined || this.stopped) return
    for (const h of held) {
      if (this.proposing.has(h.server)) continue
      this.proposing.add(h.server)
      void plane.propose('trust', { op: 'first-use', server: h.server, hash: h.hash, tools: h.tools, by: this.c.peerId, publisher: h.publisher }).then((r) => {
        const { pinned, pin } = r as { pinned: boolean, pin: { hash?: string } }
        this.log.info({ server: h.server, hash: pin.hash }, pinned ? 'server name %s pinned on first use' : 'server name %s was pinned already', h.server)
        return this.poll()
      }).catch((err: unknown) => {
        this.log.debug('first-use pin of %s not proposed yet: %s', h.server, errorMessage(err))
      }).finally(() => {
        this.proposing.delete(h.server)
        if (this.stopped) return
        // Still held (no answer yet, or the state not installed here yet): look again shortly.
        const t = setTimeout(() => { this.timers.delete(t); if (this.trust.unpinned.some((x) => x.server === h.server)) this.c.router.scheduleUpdate() }, RETRY_MS)
        t.unref()
        this.timers.add(t)
      })
    }
  }

  private resource (): BuiltinResource {
    return {
      resource: { uri: 'mesh://trust', name: 'mesh__trust', title: 'Server-name pins, bans, refused providers', mimeType: 'application/json' },
      read: () => ({ contents: [{ uri: 'mesh://trust', mimeType: 'application/json', text: JSON.stringify(this.trust.status(), null, 2) }] }),
    }
  }

  private async callTool (name: string, args: Record<string, unknown> | undefined, principal: string): Promise<CallToolResult> {
    if (name === 'mesh__trust_get') return result(this.trust.status())
    const plane = this.getPlane()
    if (plane === undefined) return result({ error: 'ControlPlaneUnavailableError', message: 'this peer runs no control plane: pin names and ban peers in its config (trust.servers, trust.bannedPeers)' }, true)
    try {
      const cmd = this.command(name, args ?? {}, principal)
      if ('error' in cmd) return result(cmd, true)
      const r = await plane.propose('trust', cmd)
      await this.poll()
      return result(r)
    } catch (err) {
      return result({ error: (err as Error).name, message: errorMessage(err) }, true)
    }
  }

  /** The trust command a tool call asks for, or why its arguments are wrong. */
  private command (name: string, args: Record<string, unknown>, principal: string): Record<string, unknown> | { error: string, message: string } {
    const bad = (issue: string): { error: string, message: string } => ({ error: 'InvalidArgumentsError', message: `${name}: ${issue}` })
    switch (name) {
      case 'mesh__trust_pin': {
        const a = PinArgs.safeParse(args)
        if (!a.success) return bad(firstIssue(a.error))
        const { fromPeer, ...rest } = a.data
        if (fromPeer === undefined) return { op: 'pin', principal, ...rest }
        if (rest.hash !== undefined) return bad('give hash or fromPeer, not both')
        const provider = this.c.registry.providers().find((p) => p.peerId === fromPeer)
        const entry = provider?.descriptor.servers.find((s) => s.name === rest.server)
        if (entry === undefined) return bad(`peer ${fromPeer} announces no server ${rest.server} to this peer (mesh__trust_get lists the refused definitions with their peers)`)
        return { op: 'pin', principal, ...rest, hash: pinHash(entry), tools: pinTools(entry) }
      }
      case 'mesh__trust_unpin': {
        const a = UnpinArgs.safeParse(args)
        return a.success ? { op: 'unpin', principal, server: a.data.server } : bad(firstIssue(a.error))
      }
      case 'mesh__peer_ban': {
        const a = BanArgs.safeParse(args)
        if (!a.success) return bad(firstIssue(a.error))
        if (a.data.peerId === this.c.peerId) return bad('a peer cannot ban itself: ask another peer, or stop this one')
        return { op: 'ban', principal, peerId: a.data.peerId, reason: a.data.reason ?? '' }
      }
      case 'mesh__peer_unban': {
        const a = UnbanArgs.safeParse(args)
        return a.success ? { op: 'unban', principal, peerId: a.data.peerId } : bad(firstIssue(a.error))
      }
    }
    return bad(`${name} is not a trust tool`)
  }
}
