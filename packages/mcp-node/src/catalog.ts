import { createHash } from 'node:crypto'
import type { Prompt, Resource, ResourceTemplate, Tool } from '@modelcontextprotocol/sdk/types.js'
import { UriTemplate } from '@modelcontextprotocol/sdk/shared/uriTemplate.js'
import type { ClientPool } from '@p2p-mcp/client-pool'
import { canonicalJson, schemaHash } from '@p2p-mcp/dht-registry'
import type { Descriptor, ProviderMatch, ServerEntry } from '@p2p-mcp/dht-registry'
import { errorMessage } from './errors.js'
import { meshName } from './naming.js'
import type { Logger } from './logger.js'

/** One server of the mesh as served: the providers whose entry for it has the chosen fingerprint. */
export interface ServerGroup {
  name: string
  version: string
  /** sha256 over the canonical JSON of the entry's version, tool schema hashes, templates and prompts. */
  fingerprint: string
  /** Peer ids serving it, sorted. */
  providers: string[]
  /** Fingerprints of other providers' entries under the same name, not served (decision 0061). */
  conflicting: string[]
  entry: ServerEntry
  loaded: boolean
  tools: Tool[]
  resources: Resource[]
  resourceTemplates: ResourceTemplate[]
  prompts: Prompt[]
}

/** A tool as served: its aggregated name, its name on its server, and whether a retry on another replica is safe. */
export interface MeshTool { server: string, name: string, original: string, tool: Tool, idempotent: boolean }
export interface MeshPrompt { server: string, name: string, original: string, prompt: Prompt }
export interface MeshResource { server: string, resource: Resource }
export interface MeshTemplate { server: string, template: ResourceTemplate, matcher: UriTemplate }

/** What changed in the last update, as the list_changed notifications need it. */
export interface CatalogChange { tools: boolean, resources: boolean, prompts: boolean }

/** The fingerprint of a server entry: replicas are the entries with the same name and fingerprint. */
export function entryFingerprint (entry: ServerEntry): string {
  const pinned = {
    version: entry.version,
    tools: entry.tools.map((t) => [t.name, t.inputSchemaHash, t.outputSchemaHash ?? null]).sort(),
    resourceTemplates: entry.resourceTemplates.map((r) => [r.name, r.uriTemplate]).sort(),
    prompts: entry.prompts.map((p) => p.name).sort(),
  }
  return createHash('sha256').update(canonicalJson(pinned)).digest('hex')
}

/**
 * Picks, per server name, the fingerprint with the most providers (ties: the smallest
 * fingerprint) and groups the providers of that fingerprint. Pure, for tests.
 */
export function groupProviders (providers: ReadonlyArray<Pick<ProviderMatch, 'peerId' | 'descriptor'>>): Map<string, { entry: ServerEntry, fingerprint: string, providers: string[], conflicting: string[] }> {
  const byName = new Map<string, Map<string, { entry: ServerEntry, peers: string[] }>>()
  for (const p of providers) {
    const d: Descriptor = p.descriptor
    if (d.withdrawn === true) continue
    for (const entry of d.servers) {
      const fp = entryFingerprint(entry)
      let variants = byName.get(entry.name)
      if (variants === undefined) byName.set(entry.name, variants = new Map<string, { entry: ServerEntry, peers: string[] }>())
      let v = variants.get(fp)
      if (v === undefined) variants.set(fp, v = { entry, peers: [] })
      v.peers.push(p.peerId)
    }
  }
  const out = new Map<string, { entry: ServerEntry, fingerprint: string, providers: string[], conflicting: string[] }>()
  for (const [name, variants] of byName) {
    const ranked = [...variants.entries()].sort((a, b) => b[1].peers.length - a[1].peers.length || (a[0] < b[0] ? -1 : 1))
    const [fp, best] = ranked[0]!
    out.set(name, { entry: best.entry, fingerprint: fp, providers: [...new Set(best.peers)].sort(), conflicting: ranked.slice(1).map(([f]) => f) })
  }
  return out
}

/**
 * The union of the mesh as this peer serves it: server groups from the registry, their
 * tool, resource and prompt definitions (fetched once per fingerprint from a replica and
 * checked against the announced schema hashes), and the aggregated names.
 */
export class MeshCatalog {
  readonly groups = new Map<string, ServerGroup>()
  tools: MeshTool[] = []
  prompts: MeshPrompt[] = []
  resources: MeshResource[] = []
  templates: MeshTemplate[] = []
  private toolIndex = new Map<string, MeshTool>()
  private promptIndex = new Map<string, MeshPrompt>()
  private resourceIndex = new Map<string, MeshResource>()
  private readonly log: Logger
  private signatures = { tools: '', resources: '', prompts: '' }
  private pendingLoads = 0

  constructor (logger: Logger) {
    this.log = logger
  }

  tool (name: string): MeshTool | undefined { return this.toolIndex.get(name) }
  prompt (name: string): MeshPrompt | undefined { return this.promptIndex.get(name) }

  /** The server that serves `uri`: an exact resource first, then the first matching template. */
  serverOfUri (uri: string): string | undefined {
    const exact = this.resourceIndex.get(uri)
    if (exact !== undefined) return exact.server
    for (const t of this.templates) if (t.matcher.match(uri) !== null) return t.server
    return undefined
  }

  /**
   * Applies the registry's current providers; loads definitions of new fingerprints with
   * `load(server, pool)`; returns what changed.
   */
  async update (providers: ProviderMatch[], load: (group: ServerGroup) => Promise<void>): Promise<CatalogChange> {
    const wanted = groupProviders(providers)
    for (const name of [...this.groups.keys()]) if (!wanted.has(name)) this.groups.delete(name)
    const toLoad: ServerGroup[] = []
    for (const [name, w] of wanted) {
      const existing = this.groups.get(name)
      if (existing !== undefined && existing.fingerprint === w.fingerprint) {
        existing.providers = w.providers
        existing.conflicting = w.conflicting
        if (!existing.loaded) toLoad.push(existing)
        continue
      }
      const group: ServerGroup = {
        name, version: w.entry.version, fingerprint: w.fingerprint, providers: w.providers, conflicting: w.conflicting, entry: w.entry,
        loaded: false, tools: [], resources: [], resourceTemplates: [], prompts: [],
      }
      if (w.conflicting.length > 0) this.log.warn('server %s is announced with %d different definitions; serving fingerprint %s', name, w.conflicting.length + 1, w.fingerprint.slice(0, 12))
      if (existing?.loaded === true) {
        // A new definition replaces a served one only once it has loaded: until then, and if it
        // fails to load, calls keep the names and tools they were listed with.
        existing.providers = w.providers
        existing.conflicting = w.conflicting
      } else {
        this.groups.set(name, group)
      }
      toLoad.push(group)
    }
    await Promise.all(toLoad.map(async (g) => {
      try {
        await load(g)
        await this.pin(g)
        g.loaded = true
        // Served from now on (the previous definition, if any, kept serving while this one loaded).
        if (this.groups.has(g.name)) this.groups.set(g.name, g)
      } catch (err) {
        this.log.warn('could not load the definitions of server %s: %s', g.name, errorMessage(err))
      }
    }))
    this.pendingLoads = 0
    for (const [name, w] of wanted) {
      const g = this.groups.get(name)
      if (g === undefined || !g.loaded || g.fingerprint !== w.fingerprint) this.pendingLoads++
    }
    return this.rebuild()
  }

  /** True while a server's current definition is not served yet (loading failed): the node tries again. */
  get pending (): boolean {
    return this.pendingLoads > 0
  }

  /** Keeps only tools whose schemas hash to what the providers announced. */
  private async pin (g: ServerGroup): Promise<void> {
    const announced = new Map(g.entry.tools.map((t) => [t.name, t]))
    const kept: Tool[] = []
    for (const tool of g.tools) {
      const a = announced.get(tool.name)
      const hash = await schemaHash(tool.inputSchema ?? { type: 'object' })
      if (a === undefined || a.inputSchemaHash !== hash) {
        this.log.warn('tool %s of %s dropped: its schema does not match the announced hash', tool.name, g.name)
        continue
      }
      kept.push(tool)
    }
    g.tools = kept
  }

  private rebuild (): CatalogChange {
    const tools = new Map<string, MeshTool>()
    const prompts = new Map<string, MeshPrompt>()
    const resources = new Map<string, MeshResource>()
    const templates: MeshTemplate[] = []
    const names = [...this.groups.keys()].sort()
    for (const name of names) {
      const g = this.groups.get(name)!
      if (!g.loaded) continue
      for (const tool of g.tools) {
        const mn = meshName(name, tool.name)
        if (tools.has(mn)) { this.log.warn('tool name %s taken; %s of %s not served', mn, tool.name, name); continue }
        const annotations = g.entry.tools.find((t) => t.name === tool.name)?.annotations
        const idempotent = annotations?.readOnlyHint === true || annotations?.idempotentHint === true
        tools.set(mn, { server: name, name: mn, original: tool.name, tool: { ...tool, name: mn }, idempotent })
      }
      for (const prompt of g.prompts) {
        const mn = meshName(name, prompt.name)
        if (!prompts.has(mn)) prompts.set(mn, { server: name, name: mn, original: prompt.name, prompt: { ...prompt, name: mn } })
      }
      for (const resource of g.resources) {
        if (!resources.has(resource.uri)) resources.set(resource.uri, { server: name, resource: { ...resource, name: meshName(name, resource.name) } })
      }
      for (const template of g.resourceTemplates) {
        try {
          templates.push({ server: name, template: { ...template, name: meshName(name, template.name) }, matcher: new UriTemplate(template.uriTemplate) })
        } catch {
          this.log.warn('resource template %s of %s is not a valid URI template', template.uriTemplate, name)
        }
      }
    }
    this.toolIndex = tools
    this.promptIndex = prompts
    this.resourceIndex = resources
    this.tools = [...tools.values()].sort((a, b) => (a.name < b.name ? -1 : 1))
    this.prompts = [...prompts.values()].sort((a, b) => (a.name < b.name ? -1 : 1))
    this.resources = [...resources.values()].sort((a, b) => (a.resource.uri < b.resource.uri ? -1 : 1))
    this.templates = templates
    const next = {
      tools: canonicalJson(this.tools.map((t) => t.tool)),
      resources: canonicalJson([...this.resources.map((r) => r.resource), ...templates.map((t) => t.template)]),
      prompts: canonicalJson(this.prompts.map((p) => p.prompt)),
    }
    const change = { tools: next.tools !== this.signatures.tools, resources: next.resources !== this.signatures.resources, prompts: next.prompts !== this.signatures.prompts }
    this.signatures = next
    return change
  }
}

/** Lists every page of a pool's tools, resources, templates and prompts into `group`. */
/** Every page of a paginated MCP list (at most 1000 pages). */
export async function allPages<T> (list: (cursor: string | undefined) => Promise<{ items: T[], next: string | undefined }>): Promise<T[]> {
  const out: T[] = []
  let cursor: string | undefined
  for (let i = 0; i < 1000; i++) {
    const page = await list(cursor)
    out.push(...page.items)
    cursor = page.next
    if (cursor === undefined) break
  }
  return out
}

/** Lists every page of a pool's tools, resources, templates and prompts into `group`. */
export async function loadGroup (group: ServerGroup, pool: ClientPool): Promise<void> {
  const p = (c: string | undefined): { cursor?: string } => (c === undefined ? {} : { cursor: c })
  group.tools = await allPages(async (c) => { const r = await pool.listTools(p(c)); return { items: r.tools, next: r.nextCursor } })
  group.resources = await allPages(async (c) => { const r = await pool.listResources(p(c)); return { items: r.resources, next: r.nextCursor } })
  group.resourceTemplates = await allPages(async (c) => { const r = await pool.listResourceTemplates(p(c)); return { items: r.resourceTemplates, next: r.nextCursor } })
  group.prompts = await allPages(async (c) => { const r = await pool.listPrompts(p(c)); return { items: r.prompts, next: r.nextCursor } })
}
