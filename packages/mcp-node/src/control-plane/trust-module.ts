import { z } from 'zod'
import { firstIssue, fromJsonBytes, toJsonBytes } from './codec-json.js'
import { reject } from './types.js'
import { POLICY_NOT_SEEDED } from './policy-module.js'
import type { ApplyContext, ReplicatedModule } from './types.js'

/**
 * One pinned server name: the hash of the definition its replicas must announce (trust on first
 * use, or set by an admin) and, when an admin asked, the peers allowed to serve it.
 */
export interface ServerPin {
  /** `pinHash()` of the pinned definition (tools and their schema hashes, templates, prompts); absent: the first use fills it. */
  hash?: string
  /** The pinned tools as `[name, inputSchemaHash, outputSchemaHash | null]`, for operators (at most TRUST_LIMITS.maxTools). */
  tools?: Array<[string, string, string | null]>
  /** Peer ids allowed to serve the name; absent: any peer announcing the pinned hash. */
  publishers?: string[]
  /** How the hash was set. */
  source: 'first-use' | 'admin'
  /** 1 when pinned, +1 on every admin change. */
  revision: number
  pinnedAtMs: number
  /** The peer that proposed the first use, or the admin principal. */
  pinnedBy: string
}

/** A peer banned from the mesh. */
export interface PeerBan { atMs: number, by: string, reason: string }

/** The replicated trust state: pins by server name and bans by peer id. */
export interface TrustState {
  /** 0 while empty; +1 on every change. */
  version: number
  pins: Record<string, ServerPin>
  bans: Record<string, PeerBan>
}

export const TRUST_LIMITS = {
  maxPins: 10_000,
  maxBans: 10_000,
  maxTools: 1_024,
  maxPublishers: 64,
} as const

/** `record[key]` when it is the record's own (a server name such as `constructor` is not an Object method). */
export function own<T> (record: Record<string, T>, key: string): T | undefined {
  return Object.hasOwn(record, key) ? record[key] : undefined
}

/** A trust snapshot, as another replica may send it (decision 0161: a malformed one halts the replica). */
const TrustSnapshotSchema: z.ZodType<TrustState> = z.object({
  version: z.number().int().min(0),
  pins: z.record(z.string(), z.object({
    hash: z.string().optional(),
    tools: z.array(z.tuple([z.string(), z.string(), z.string().nullable()]).transform(([n, i, o]): [string, string, string | null] => [n, i, o])).optional(),
    publishers: z.array(z.string()).optional(),
    source: z.enum(['first-use', 'admin']),
    revision: z.number().int(),
    pinnedAtMs: z.number(),
    pinnedBy: z.string(),
  }).transform(({ hash, tools, publishers, ...rest }): ServerPin => ({
    ...rest, ...(hash === undefined ? {} : { hash }), ...(tools === undefined ? {} : { tools }), ...(publishers === undefined ? {} : { publishers }),
  }))),
  bans: z.record(z.string(), z.object({ atMs: z.number(), by: z.string(), reason: z.string() })),
})

const server = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/, 'a server name: 1 to 64 letters, digits, . _ -, starting with a letter or digit')
const hash = z.string().regex(/^[0-9a-f]{64}$/, 'a sha256 hex digest (64 hex digits), as mesh__trust_get shows')
const peer = z.string().min(1).max(128)
const principal = z.string().min(1).max(256)
const tools = z.array(z.tuple([z.string().min(1).max(128), z.string().max(128), z.string().max(128).nullable()])).max(TRUST_LIMITS.maxTools)

const TrustCommandSchema = z.discriminatedUnion('op', [
  /** A peer saw an unpinned name: the first such command the log applies pins it. */
  z.strictObject({
    op: z.literal('first-use'), server, hash, tools, by: peer,
    /** A peer announcing this definition: refused when the name is pinned to other publishers. */
    publisher: peer.optional(),
  }),
  z.strictObject({
    op: z.literal('pin'), principal, server,
    hash: hash.optional(),
    tools: tools.optional(),
    /** null removes the publisher restriction. */
    publishers: z.array(peer).min(1).max(TRUST_LIMITS.maxPublishers).nullable().optional(),
    /** Compare-and-set on the pin's revision (0: the name must not be pinned). */
    expectRevision: z.number().int().min(0).optional(),
  }),
  z.strictObject({ op: z.literal('unpin'), principal, server }),
  z.strictObject({ op: z.literal('ban'), principal, peerId: peer, reason: z.string().max(512).default('') }),
  z.strictObject({ op: z.literal('unban'), principal, peerId: peer }),
])

export type TrustCommand = z.input<typeof TrustCommandSchema>

/**
 * The `trust` module: server-name pins and peer bans, beside the policy module (its admins
 * decide here too). A `first-use` command is accepted from any peer and only ever pins a name
 * that has no hash yet, so the first one in log order wins everywhere; the other commands are
 * admins' only, checked in apply against the replicated admin list.
 */
export class TrustModule implements ReplicatedModule {
  readonly name = 'trust'
  readonly version = 1
  private state: TrustState = TrustModule.empty()
  private readonly admins: { isAdmin: (principal: string) => boolean, readonly seeded: boolean }
  private readonly listeners = new Set<(s: TrustState) => void>()

  /** `admins` is the policy module of the same state machine (so every replica decides alike). */
  constructor (admins: { isAdmin: (principal: string) => boolean, readonly seeded: boolean }) {
    this.admins = admins
  }

  static empty (): TrustState {
    return { version: 0, pins: {}, bans: {} }
  }

  get current (): TrustState { return this.state }

  /** Calls `listener` after every change; returns the unsubscribe function. */
  onChange (listener: (s: TrustState) => void): () => void {
    this.listeners.add(listener)
    return () => { this.listeners.delete(listener) }
  }

  apply (command: unknown, ctx: ApplyContext): unknown {
    const parsed = TrustCommandSchema.safeParse(command)
    if (!parsed.success) return reject('InvalidCommandError', `trust command: ${firstIssue(parsed.error)}`)
    const c = parsed.data
    if (c.op === 'first-use') {
      const pin = own(this.state.pins, c.server)
      if (pin?.hash !== undefined) return { ok: true, pinned: false, pin }
      // A publisher pin committed after the proposer looked: a definition from elsewhere must not fill the hash.
      if (pin?.publishers !== undefined && (c.publisher === undefined || !pin.publishers.includes(c.publisher))) {
        return reject('NotAPublisherError', `${c.server} is pinned to publishers ${pin.publishers.join(', ')}; ${c.publisher ?? 'an unnamed peer'} is not one of them`)
      }
      if (pin === undefined && Object.keys(this.state.pins).length >= TRUST_LIMITS.maxPins) {
        return reject('TooManyPinsError', `${TRUST_LIMITS.maxPins} server names are pinned already: an admin must unpin some (mesh__trust_unpin)`)
      }
      const next: ServerPin = { ...pin, hash: c.hash, tools: c.tools, source: pin?.source ?? 'first-use', revision: pin?.revision ?? 1, pinnedAtMs: ctx.timeMs, pinnedBy: c.by }
      this.change((s) => { s.pins[c.server] = next })
      return { ok: true, pinned: true, pin: next }
    }
    if (!this.admins.seeded) return reject(POLICY_NOT_SEEDED.name, POLICY_NOT_SEEDED.message)
    if (!this.admins.isAdmin(c.principal)) {
      return reject('NotAdminError', `principal ${JSON.stringify(c.principal)} is not a policy admin: only admins pin names and ban peers (controlPlane.admins, or mesh__policy_set)`)
    }
    switch (c.op) {
      case 'pin': {
        const pin = own(this.state.pins, c.server)
        if (c.expectRevision !== undefined && c.expectRevision !== (pin?.revision ?? 0)) {
          return reject('VersionMismatchError', `the pin of ${c.server} is at revision ${pin?.revision ?? 0}, not ${c.expectRevision}: read it again (mesh__trust_get) and retry`)
        }
        if (c.hash === undefined && c.publishers === undefined) return reject('InvalidCommandError', 'trust pin needs hash or publishers')
        if (pin === undefined && Object.keys(this.state.pins).length >= TRUST_LIMITS.maxPins) {
          return reject('TooManyPinsError', `${TRUST_LIMITS.maxPins} server names are pinned already: unpin some first`)
        }
        const next: ServerPin = { source: 'admin', revision: (pin?.revision ?? 0) + 1, pinnedAtMs: ctx.timeMs, pinnedBy: c.principal }
        const nextHash = c.hash ?? pin?.hash
        if (nextHash !== undefined) next.hash = nextHash
        const nextTools = c.hash === undefined ? pin?.tools : c.tools
        if (nextTools !== undefined) next.tools = nextTools
        const publishers = c.publishers === undefined ? pin?.publishers : c.publishers ?? undefined
        if (publishers !== undefined) next.publishers = [...new Set(publishers)].sort()
        this.change((s) => { s.pins[c.server] = next })
        return { ok: true, pin: next }
      }
      case 'unpin': {
        if (own(this.state.pins, c.server) === undefined) return { ok: true, removed: false }
        this.change((s) => { s.pins = Object.fromEntries(Object.entries(s.pins).filter(([k]) => k !== c.server)) })
        return { ok: true, removed: true }
      }
      case 'ban': {
        if (own(this.state.bans, c.peerId) === undefined && Object.keys(this.state.bans).length >= TRUST_LIMITS.maxBans) {
          return reject('TooManyBansError', `${TRUST_LIMITS.maxBans} peers are banned already: rotate the swarm key instead (docs/security.md)`)
        }
        const ban: PeerBan = { atMs: ctx.timeMs, by: c.principal, reason: c.reason }
        this.change((s) => { s.bans[c.peerId] = ban })
        return { ok: true, ban }
      }
      case 'unban': {
        if (own(this.state.bans, c.peerId) === undefined) return { ok: true, removed: false }
        this.change((s) => { s.bans = Object.fromEntries(Object.entries(s.bans).filter(([k]) => k !== c.peerId)) })
        return { ok: true, removed: true }
      }
    }
  }

  /** Applies `edit` to a copy (listeners keep the state they were given) and tells the listeners. */
  private change (edit: (s: TrustState) => void): void {
    const next: TrustState = { version: this.state.version + 1, pins: { ...this.state.pins }, bans: { ...this.state.bans } }
    edit(next)
    this.set(next)
  }

  private set (next: TrustState): void {
    this.state = next
    for (const l of this.listeners) {
      try { l(next) } catch { /* a listener's failure is its own */ }
    }
  }

  snapshot (): Uint8Array { return toJsonBytes(this.state) }

  restore (data: Uint8Array): void {
    this.set(fromJsonBytes(data, TrustSnapshotSchema, 'trust') ?? TrustModule.empty())
  }
}
