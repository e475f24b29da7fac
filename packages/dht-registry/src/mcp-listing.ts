import type { ServerInput } from './types.js'

/** An MCP server's `initialize` result and its lists, as an MCP client reads them (structurally: any SDK version fits). */
export interface McpListing {
  /** `serverInfo` of `initialize`; its version is published (`0.0.0` when absent). */
  serverInfo?: { version?: string, title?: string } | undefined
  tools: ReadonlyArray<{
    name: string
    title?: string
    description?: string
    inputSchema: unknown
    outputSchema?: unknown
    annotations?: Record<string, unknown>
  }>
  resources: ReadonlyArray<{ name: string, uri: string, mimeType?: string }>
  resourceTemplates: ReadonlyArray<{ name: string, uriTemplate: string, mimeType?: string }>
  prompts: ReadonlyArray<{ name: string, description?: string, arguments?: ReadonlyArray<{ name: string, required?: boolean }> }>
}

/** Longest title or description a descriptor carries. */
const MAX_TEXT = 2048
/** Longest server version a descriptor carries. */
const MAX_VERSION = 64
const ANNOTATIONS = ['readOnlyHint', 'destructiveHint', 'idempotentHint', 'openWorldHint'] as const

const cut = (s: string | undefined): { value?: string } => (s === undefined ? {} : { value: s.slice(0, MAX_TEXT) })

/**
 * The descriptor entry of an MCP server, from what its client listed: titles and descriptions
 * cut to the descriptor's limits, only the boolean hint annotations, resources published as
 * templates of themselves, prompt arguments by name and `required`. Schemas are hashed by
 * `publish()`.
 */
export function serverFromListing (name: string, listing: McpListing): ServerInput {
  const title = cut(listing.serverInfo?.title).value
  return {
    name,
    version: (listing.serverInfo?.version ?? '0.0.0').slice(0, MAX_VERSION),
    ...(title === undefined ? {} : { title }),
    tools: listing.tools.map((t) => {
      const title = cut(t.title).value
      const description = cut(t.description).value
      return {
        name: t.name,
        ...(title === undefined ? {} : { title }),
        ...(description === undefined ? {} : { description }),
        inputSchema: t.inputSchema,
        ...(t.outputSchema === undefined ? {} : { outputSchema: t.outputSchema }),
        ...(t.annotations === undefined
          ? {}
          : { annotations: Object.fromEntries(ANNOTATIONS.filter((k) => typeof t.annotations?.[k] === 'boolean').map((k) => [k, t.annotations![k] as boolean])) }),
      }
    }),
    resourceTemplates: [
      ...listing.resources.map((r) => ({ name: r.name, uriTemplate: r.uri, ...(r.mimeType === undefined ? {} : { mimeType: r.mimeType }) })),
      ...listing.resourceTemplates.map((r) => ({ name: r.name, uriTemplate: r.uriTemplate, ...(r.mimeType === undefined ? {} : { mimeType: r.mimeType }) })),
    ],
    prompts: listing.prompts.map((p) => {
      const description = cut(p.description).value
      return {
        name: p.name,
        ...(description === undefined ? {} : { description }),
        ...(p.arguments === undefined ? {} : { arguments: p.arguments.map((a) => ({ name: a.name, ...(a.required === undefined ? {} : { required: a.required }) })) }),
      }
    }),
  }
}
