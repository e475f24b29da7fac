import { ErrorCode, McpError } from '@modelcontextprotocol/sdk/types.js'
import type { CallToolResult, ReadResourceResult, Resource, Tool } from '@modelcontextprotocol/sdk/types.js'
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

/** A built-in resource of the `mesh` server, computed when read. */
export interface BuiltinResource {
  readonly resource: Resource
  readonly read: () => ReadResourceResult
}

/** What a module contributes to the built-in server (a `NodeModule` fits). */
export interface BuiltinContribution {
  readonly name: string
  readonly tools?: readonly BuiltinTool[]
  readonly resources?: readonly BuiltinResource[]
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

  listResources (): Resource[] {
    return [...this.resources.values()].map((r) => r.resource)
  }

  /** A built-in resource, read now; undefined when `uri` is not one. */
  read (uri: string): ReadResourceResult | undefined {
    return this.resources.get(uri)?.read()
  }

  async call (name: string, args: Record<string, unknown>, ctx: { principal: string, signal: AbortSignal }): Promise<CallToolResult> {
    const t = this.tools.get(name)
    if (t === undefined) throw new McpError(ErrorCode.InvalidParams, `unknown tool ${JSON.stringify(name)}; tools/list names the tools of the mesh`)
    return await t.call(args, ctx)
  }
}
