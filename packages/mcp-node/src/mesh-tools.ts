import { ErrorCode, McpError } from '@modelcontextprotocol/sdk/types.js'
import type { CallToolResult, ReadResourceResult, Resource, ResourceTemplate, Tool } from '@modelcontextprotocol/sdk/types.js'
import type { MeshToolsConfig } from './config.js'
import { MESH_SERVER, NAME_SEPARATOR } from './constants.js'
import { globToRegExp } from './naming.js'

/**
 * A built-in tool of the `mesh` server (its name starts with `mesh__`). Which front doors list
 * it is configured by `meshTools` and the policy filters it like any other tool.
 */
export interface BuiltinTool {
  readonly tool: Tool
  readonly call: (args: Record<string, unknown>, ctx: { principal: string, signal: AbortSignal }) => Promise<CallToolResult>
}

/** Who reads a built-in resource, and which URI (a template's resource has query parameters). */
export interface BuiltinReadContext { principal: string, uri: string }

/** A built-in resource of the `mesh` server, computed when read. */
export interface BuiltinResource {
  readonly resource: Resource
  /** May throw an `McpError` (e.g. -32003 for a principal that may not read it). */
  readonly read: (ctx: BuiltinReadContext) => ReadResourceResult | Promise<ReadResourceResult>
  /** Whether `principal` sees it listed (it cannot read it either). @default everyone */
  readonly visible?: (principal: string) => boolean
}

/** A built-in resource template: every URI that starts with `prefix` is read through it. */
export interface BuiltinResourceTemplate {
  readonly template: ResourceTemplate
  readonly prefix: string
  readonly read: (ctx: BuiltinReadContext) => ReadResourceResult | Promise<ReadResourceResult>
  readonly visible?: (principal: string) => boolean
}

/** What a module contributes to the built-in server (a `NodeModule` fits). */
export interface BuiltinContribution {
  readonly name: string
  readonly tools?: readonly BuiltinTool[]
  readonly resources?: readonly BuiltinResource[]
  readonly resourceTemplates?: readonly BuiltinResourceTemplate[]
}

/** A front door, as the `meshTools` listing configuration names it. */
export type Door = 'stdio' | 'http' | 'libp2p' | 'memory' | 'local'

/**
 * The built-in `mesh` server: the `mesh__*` tools and `mesh://` resources the node's modules
 * contribute, listed per front door as `meshTools` configures (the policy then filters what a
 * principal sees and may call), called by name.
 */
export class MeshTools {
  private readonly tools = new Map<string, BuiltinTool>()
  private readonly resources = new Map<string, BuiltinResource>()
  private readonly templates: BuiltinResourceTemplate[] = []
  private readonly listed: Record<Door, RegExp[]>

  constructor (config: MeshToolsConfig) {
    const compile = (patterns: string[]): RegExp[] => patterns.map(globToRegExp)
    this.listed = {
      stdio: compile(config.stdio), http: compile(config.http), libp2p: compile(config.libp2p),
      // this peer's own route sessions list what a libp2p session would
      memory: compile(config.libp2p), local: compile(config.local),
    }
  }

  /** Adds a module's tools and resources; a name taken twice is a programming error. */
  add (module: BuiltinContribution): void {
    for (const t of module.tools ?? []) {
      if (!t.tool.name.startsWith(`${MESH_SERVER}${NAME_SEPARATOR}`)) throw new TypeError(`built-in tool ${t.tool.name} of module ${module.name} must be named ${MESH_SERVER}${NAME_SEPARATOR}<name>`)
      if (this.tools.has(t.tool.name)) throw new TypeError(`built-in tool ${t.tool.name} of module ${module.name} is already defined`)
      this.tools.set(t.tool.name, t)
    }
    for (const r of module.resources ?? []) {
      if (this.resources.has(r.resource.uri)) throw new TypeError(`built-in resource ${r.resource.uri} of module ${module.name} is already defined`)
      this.resources.set(r.resource.uri, r)
    }
    for (const t of module.resourceTemplates ?? []) {
      if (this.templates.some((x) => x.prefix === t.prefix)) throw new TypeError(`built-in resource template ${t.template.uriTemplate} of module ${module.name} is already defined`)
      this.templates.push(t)
    }
  }

  /** The built-in tools a session on `door` lists (before the policy). */
  list (door: Door): Tool[] {
    const patterns = this.listed[door]
    const out: Tool[] = []
    for (const t of this.tools.values()) if (patterns.some((re) => re.test(t.tool.name))) out.push(t.tool)
    return out
  }

  /** True when `name` is a built-in tool a session on `door` lists (and so may call). */
  listedOn (door: Door, name: string): boolean {
    return this.tools.has(name) && this.listed[door].some((re) => re.test(name))
  }

  /** The built-in resources `principal` sees (before the policy). */
  listResources (principal: string): Resource[] {
    return [...this.resources.values()].filter((r) => r.visible?.(principal) ?? true).map((r) => r.resource)
  }

  /** The built-in resource templates `principal` sees (before the policy). */
  listTemplates (principal: string): ResourceTemplate[] {
    return this.templates.filter((t) => t.visible?.(principal) ?? true).map((t) => t.template)
  }

  /** Whether `uri` is a built-in resource (or one of a built-in template). */
  has (uri: string): boolean {
    return this.resources.has(uri) || this.templates.some((t) => uri.startsWith(t.prefix))
  }

  /** Reads a built-in resource now; -32602 when `uri` is not one. */
  async read (uri: string, ctx: { principal: string }): Promise<ReadResourceResult> {
    const r = this.resources.get(uri) ?? this.templates.find((t) => uri.startsWith(t.prefix))
    if (r === undefined) throw new McpError(ErrorCode.InvalidParams, `no built-in resource ${uri}`)
    return await r.read({ principal: ctx.principal, uri })
  }

  async call (name: string, args: Record<string, unknown>, ctx: { principal: string, signal: AbortSignal }): Promise<CallToolResult> {
    const t = this.tools.get(name)
    if (t === undefined) throw new McpError(ErrorCode.InvalidParams, `unknown tool ${JSON.stringify(name)}; tools/list names the tools of the mesh`)
    return await t.call(args, ctx)
  }
}
