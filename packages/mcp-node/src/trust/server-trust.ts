import { createHash } from 'node:crypto'
import { canonicalJson } from '@p2p-mcp/dht-registry'
import type { ProviderMatch, ServerEntry } from '@p2p-mcp/dht-registry'
import type { Logger } from '../logger.js'
import { own, type ServerPin, type TrustState } from '../control-plane/trust-module.js'
import type { TrustConfig } from './config-schema.js'

/** Why a provider's server entry (or the whole provider) is not served. */
export type RefusalReason = 'banned' | 'publisher' | 'hash'

/** A provider's server entry that the trust rules refuse. */
export interface Refusal { server: string, peerId: string, hash: string, reason: RefusalReason }

/** The definition a peer proposes to pin for a name it saw unpinned. */
export interface FirstUseCandidate {
  server: string
  hash: string
  tools: Array<[string, string, string | null]>
  /** A peer announcing it (the name may be pinned to publishers). */
  publisher: string
}

/** How many distinct refusals are remembered (so each is logged and counted once). */
const MAX_REMEMBERED_REFUSALS = 4_096

/** The tools of an entry as pinned: `[name, inputSchemaHash, outputSchemaHash | null]`, sorted by name. */
export function pinTools (entry: ServerEntry): Array<[string, string, string | null]> {
  return entry.tools.map((t): [string, string, string | null] => [t.name, t.inputSchemaHash, t.outputSchemaHash ?? null]).sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0))
}

/**
 * The pin hash of a server entry: sha256 over the canonical JSON (RFC 8785) of its tools with
 * their schema hashes (the ones the registry computed and the peer signed), its resource
 * templates and its prompt names. The version is left out, so a release that changes no schema
 * stays a replica.
 */
export function pinHash (entry: ServerEntry): string {
  const pinned = {
    tools: pinTools(entry),
    resourceTemplates: entry.resourceTemplates.map((r) => [r.name, r.uriTemplate]).sort(),
    prompts: entry.prompts.map((p) => p.name).sort(),
  }
  return createHash('sha256').update(canonicalJson(pinned)).digest('hex')
}

export interface ServerTrustInit {
  config: TrustConfig
  /** `controlPlane.enabled`: what `firstUse: 'auto'` means. */
  controlPlaneEnabled: boolean
  logger: Logger
}

/**
 * Decides which providers' server entries are replicas of a name: peers banned (by the config
 * or the control plane) are dropped whole; an entry whose name is pinned is kept only when its
 * pin hash and publisher match every pin that applies (this peer's config and the replicated
 * one); a name with no pinned hash yet is held (not served) and offered for a first-use pin,
 * unless `firstUse` is `local`, where the first definition this peer saw pins it here.
 */
export class ServerTrust {
  readonly mode: 'mesh' | 'local'
  private readonly config: TrustConfig
  private readonly log: Logger
  private readonly refusalListeners = new Set<(r: Refusal) => void>()
  private readonly heldListeners = new Set<(held: readonly FirstUseCandidate[]) => void>()
  private replicated: TrustState = { version: 0, pins: {}, bans: {} }
  private readonly configBans: ReadonlySet<string>
  /** `local` mode: the first definition seen of each name. `mesh` mode: the one this peer proposes. */
  private readonly firstSeen = new Map<string, FirstUseCandidate>()
  /** Most names `firstSeen` holds (a name beyond it is neither pinned here nor proposed). */
  private readonly maxFirstSeen = 10_000
  private readonly remembered = new Set<string>()
  /** Pin hashes by entry: the registry keeps a provider's descriptor object until it changes, and every update filters them all. */
  private readonly hashes = new WeakMap<ServerEntry, string>()
  private heldNow: FirstUseCandidate[] = []
  private unpinnedNow: FirstUseCandidate[] = []
  private refusedNow: Refusal[] = []
  private readonly listeners = new Set<() => void>()

  constructor (init: ServerTrustInit) {
    this.config = init.config
    this.mode = init.config.firstUse === 'auto' ? (init.controlPlaneEnabled ? 'mesh' : 'local') : init.config.firstUse
    this.log = init.logger
    this.configBans = new Set(init.config.bannedPeers)
  }

  /** Installs the replicated state when it is newer; true when it was. */
  setReplicated (state: TrustState): boolean {
    if (state.version <= this.replicated.version) return false
    this.replicated = state
    for (const l of this.listeners) l()
    return true
  }

  /** The replicated state as installed here. */
  get state (): TrustState { return this.replicated }

  /** Calls `listener` when the installed replicated state changed. */
  onChange (listener: () => void): () => void {
    this.listeners.add(listener)
    return () => { this.listeners.delete(listener) }
  }

  /** Calls `listener` once per distinct refusal (a provider, name, hash and reason not refused before). */
  onRefusal (listener: (r: Refusal) => void): () => void {
    this.refusalListeners.add(listener)
    return () => { this.refusalListeners.delete(listener) }
  }

  /** Calls `listener` after each `filter()` that met unpinned names (mesh mode: what to propose). */
  onHeld (listener: (held: readonly FirstUseCandidate[]) => void): () => void {
    this.heldListeners.add(listener)
    return () => { this.heldListeners.delete(listener) }
  }

  private hashOf (entry: ServerEntry): string {
    let h = this.hashes.get(entry)
    if (h === undefined) this.hashes.set(entry, h = pinHash(entry))
    return h
  }

  /** Whether `peerId` is banned, by this peer's config or mesh-wide. */
  isBanned (peerId: string): boolean {
    return this.configBans.has(peerId) || own(this.replicated.bans, peerId) !== undefined
  }

  /** Names not served because no hash is pinned for them yet (this peer's own servers excepted), with what this peer proposes. */
  get held (): readonly FirstUseCandidate[] { return this.heldNow }

  /** Names with no pinned hash yet (mesh mode), with what this peer proposes for each. */
  get unpinned (): readonly FirstUseCandidate[] { return this.unpinnedNow }

  /** What the last `filter()` refused. */
  get refused (): readonly Refusal[] { return this.refusedNow }

  /** The hash a name is pinned to here, and by what. */
  pinnedHash (server: string): { hash: string, by: 'config' | 'mesh' | 'local' } | undefined {
    const fromConfig = own(this.config.servers, server)?.hash
    if (fromConfig !== undefined) return { hash: fromConfig, by: 'config' }
    const fromMesh = own(this.replicated.pins, server)?.hash
    if (fromMesh !== undefined) return { hash: fromMesh, by: 'mesh' }
    const local = this.mode === 'local' ? this.firstSeen.get(server) : undefined
    return local === undefined ? undefined : { hash: local.hash, by: 'local' }
  }

  /** The publishers that may serve a name: both lists when both the config and the mesh give one. */
  private publisherAllowed (server: string, peerId: string): boolean {
    const lists: Array<readonly string[] | undefined> = [own(this.config.servers, server)?.publishers, own(this.replicated.pins, server)?.publishers]
    return lists.every((l) => l === undefined || l.includes(peerId))
  }

  /**
   * The providers with only the server entries that are replicas of their name (banned peers
   * left out); records what is held and refused.
   */
  filter (providers: readonly ProviderMatch[]): ProviderMatch[] {
    const admitted = providers.filter((p) => !this.isBanned(p.peerId))
    const unpinned = this.firstUse(admitted)
    const heldNames = new Set(unpinned.map((h) => h.server))
    const selfServed = new Set<string>()
    const out: ProviderMatch[] = []
    const refused: Refusal[] = []
    for (const p of providers) {
      if (this.isBanned(p.peerId)) {
        for (const entry of p.descriptor.servers) refused.push({ server: entry.name, peerId: p.peerId, hash: this.hashOf(entry), reason: 'banned' })
        continue
      }
      const kept: ServerEntry[] = []
      for (const entry of p.descriptor.servers) {
        if (heldNames.has(entry.name)) {
          // This peer's own upstream serves this peer's clients while the mesh decides: an operator trusts what it hosts.
          if (p.source === 'self' && this.publisherAllowed(entry.name, p.peerId)) { kept.push(entry); selfServed.add(entry.name) }
          continue
        }
        const hash = this.hashOf(entry)
        if (!this.publisherAllowed(entry.name, p.peerId)) { refused.push({ server: entry.name, peerId: p.peerId, hash, reason: 'publisher' }); continue }
        if (!this.hashAllowed(entry.name, hash)) { refused.push({ server: entry.name, peerId: p.peerId, hash, reason: 'hash' }); continue }
        kept.push(entry)
      }
      if (kept.length === p.descriptor.servers.length) out.push(p)
      else if (kept.length > 0) out.push({ ...p, descriptor: { ...p.descriptor, servers: kept } })
    }
    this.unpinnedNow = unpinned
    this.heldNow = unpinned.filter((h) => !selfServed.has(h.server))
    this.refusedNow = refused
    for (const r of refused) this.remember(r)
    if (unpinned.length > 0) for (const l of this.heldListeners) l(unpinned)
    return out
  }

  /** Every pin that applies (config, mesh, else this peer's first use) admits `hash`. */
  private hashAllowed (server: string, hash: string): boolean {
    const c = own(this.config.servers, server)?.hash
    const m = own(this.replicated.pins, server)?.hash
    if (c !== undefined || m !== undefined) return (c === undefined || c === hash) && (m === undefined || m === hash)
    return this.mode === 'local' && this.firstSeen.get(server)?.hash === hash
  }

  /**
   * Names with no pinned hash: the definition this peer saw first (while it is still announced;
   * else its own, then the lowest peer id's). In `local` mode it is pinned here and nothing is
   * held; in `mesh` mode the names are held and these are what this peer proposes.
   */
  private firstUse (admitted: readonly ProviderMatch[]): FirstUseCandidate[] {
    const variants = new Map<string, Array<{ peerId: string, self: boolean, entry: ServerEntry }>>()
    for (const p of admitted) {
      for (const entry of p.descriptor.servers) {
        if (own(this.config.servers, entry.name)?.hash !== undefined || own(this.replicated.pins, entry.name)?.hash !== undefined) continue
        if (!this.publisherAllowed(entry.name, p.peerId)) continue
        let list = variants.get(entry.name)
        if (list === undefined) variants.set(entry.name, list = [])
        list.push({ peerId: p.peerId, self: p.source === 'self', entry })
      }
    }
    const held: FirstUseCandidate[] = []
    for (const [server, list] of variants) {
      let chosen = this.firstSeen.get(server)
      const announced = chosen !== undefined && list.some((v) => this.hashOf(v.entry) === chosen!.hash)
      if (chosen === undefined && this.firstSeen.size >= this.maxFirstSeen) continue
      if (chosen === undefined || (this.mode === 'mesh' && !announced)) {
        const best = [...list].sort((a, b) => Number(b.self) - Number(a.self) || (a.peerId < b.peerId ? -1 : 1))[0]!
        chosen = { server, hash: this.hashOf(best.entry), tools: pinTools(best.entry), publisher: best.peerId }
        this.firstSeen.set(server, chosen)
        if (this.mode === 'local') this.log.info({ server, hash: chosen.hash }, 'server name %s pinned at this peer on first use (trust.firstUse: local)', server)
      }
      if (this.mode === 'mesh') held.push(chosen)
    }
    return held
  }

  private remember (r: Refusal): void {
    const key = `${r.reason}\n${r.server}\n${r.peerId}\n${r.hash}`
    if (this.remembered.has(key)) return
    if (this.remembered.size >= MAX_REMEMBERED_REFUSALS) this.remembered.clear()
    this.remembered.add(key)
    const why = r.reason === 'banned'
      ? 'the peer is banned'
      : r.reason === 'publisher'
        ? 'the name is pinned to other publishers'
        : `its definition ${r.hash.slice(0, 12)} is not the pinned one ${this.pinnedHash(r.server)?.hash.slice(0, 12) ?? '?'}`
    this.log.warn({ server: r.server, provider: r.peerId, hash: r.hash, reason: r.reason }, 'server %s of %s refused: %s (not a replica; see docs/security.md)', r.server, r.peerId, why)
    for (const l of this.refusalListeners) l(r)
  }

  /** What `mesh__trust_get` shows besides the replicated state. */
  status (): { mode: 'mesh' | 'local', version: number, pins: Record<string, ServerPin>, bans: TrustState['bans'], config: TrustConfig, held: FirstUseCandidate[], refused: Refusal[] } {
    return {
      mode: this.mode,
      version: this.replicated.version,
      pins: this.replicated.pins,
      bans: this.replicated.bans,
      config: this.config,
      held: [...this.heldNow],
      refused: [...this.refusedNow],
    }
  }
}
