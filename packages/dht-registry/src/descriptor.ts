import { z } from 'zod'

const name = z.string().min(1).max(128).regex(/^[^\p{Cc}]+$/u, 'no control characters')
const text = z.string().max(2048)
const count = z.number().int().min(0).max(Number.MAX_SAFE_INTEGER)
const millis = z.number().int().min(0).max(Number.MAX_SAFE_INTEGER)
const nonNegative = z.number().finite().min(0)

/** sha256 of RFC 8785 canonical JSON, lowercase hex. */
export const SchemaHashSchema = z.string().regex(/^[0-9a-f]{64}$/, 'a lowercase hex sha256 (64 characters)')

/** A capability string such as `cuda` or `large-memory`. */
export const CapabilitySchema = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._:/+-]{0,63}$/,
  '1 to 64 characters: letters, digits and . _ : / + -, starting with a letter or digit')

/** The MCP tool annotations (hints) a host announces. */
export const ToolAnnotationsSchema = z.object({
  title: text.optional(),
  readOnlyHint: z.boolean().optional(),
  destructiveHint: z.boolean().optional(),
  idempotentHint: z.boolean().optional(),
  openWorldHint: z.boolean().optional(),
})

/** A tool as announced: its schemas travel as hashes only. */
export const ToolEntrySchema = z.object({
  name,
  title: text.optional(),
  description: text.optional(),
  inputSchemaHash: SchemaHashSchema,
  outputSchemaHash: SchemaHashSchema.optional(),
  annotations: ToolAnnotationsSchema.optional(),
})

export const ResourceTemplateEntrySchema = z.object({
  name,
  uriTemplate: z.string().min(1).max(1024),
  title: text.optional(),
  description: text.optional(),
  mimeType: z.string().max(256).optional(),
})

export const PromptEntrySchema = z.object({
  name,
  title: text.optional(),
  description: text.optional(),
  arguments: z.array(z.object({
    name,
    description: text.optional(),
    required: z.boolean().optional(),
  })).max(64).optional(),
})

/**
 * What the host asks of callers (seed 000's `access_policy`): on the descriptor for the whole
 * peer, or on one server entry for that server (its `rate_limits`: requests per minute, with an
 * optional burst, and concurrent executions), enforced by the peer that serves it.
 */
export const AccessPolicySchema = z.object({
  authenticationRequired: z.boolean().optional(),
  requestsPerMinute: count.optional(),
  /** Requests admitted at once after an idle spell (a peer of the first release ignores it). */
  burst: count.optional(),
  maxConcurrentExecutions: count.optional(),
})

/** One MCP server hosted by the peer. */
export const ServerEntrySchema = z.object({
  name,
  version: z.string().min(1).max(64),
  title: text.optional(),
  description: text.optional(),
  /** Metadata in the official MCP registry's `server.json` format, carried as is. */
  serverJson: z.record(z.string(), z.unknown()).optional(),
  tools: z.array(ToolEntrySchema).max(1024),
  resourceTemplates: z.array(ResourceTemplateEntrySchema).max(256),
  prompts: z.array(PromptEntrySchema).max(256),
  /** This server's access policy at this peer; absent in records of the first release (which drops it unread). */
  accessPolicy: AccessPolicySchema.optional(),
})

/** What the host machine offers (the seed's resource requirements, seen from the provider's side). */
export const ResourcesSchema = z.object({
  cpuCores: nonNegative.optional(),
  memoryGb: nonNegative.optional(),
  gpu: z.boolean().optional(),
  gpuMemoryGb: nonNegative.optional(),
  diskGb: nonNegative.optional(),
  bandwidthMbps: nonNegative.optional(),
})

/** Current load, refreshed with every heartbeat. */
export const LoadSchema = z.object({
  inFlight: count,
  ewmaLatencyMs: nonNegative,
})

/** Service-level hints; not enforced by anyone. */
export const SlaSchema = z.object({
  availabilityPercent: z.number().min(0).max(100).optional(),
  responseTimeP95Ms: nonNegative.optional(),
  throughputOpsPerSecond: nonNegative.optional(),
})

/**
 * The capability descriptor a peer signs and publishes: who it is, where to dial it, which MCP
 * servers it hosts with which tools, resource templates and prompts, its capabilities, resources,
 * access policy, load and SLA hints, a sequence number and an expiry.
 */
export const DescriptorSchema = z.object({
  v: z.literal(1),
  peerId: z.string().min(1).max(128),
  multiaddrs: z.array(z.string().min(1).max(512).startsWith('/')).max(32),
  seq: count,
  issuedAt: millis,
  expiresAt: millis,
  heartbeatIntervalMs: z.number().int().min(1).max(86_400_000),
  /** A peer that stopped serving publishes a last record with `withdrawn: true` and no servers. */
  withdrawn: z.boolean().optional(),
  servers: z.array(ServerEntrySchema).max(64),
  capabilities: z.array(CapabilitySchema).max(64),
  resources: ResourcesSchema.optional(),
  accessPolicy: AccessPolicySchema.optional(),
  load: LoadSchema,
  sla: SlaSchema.optional(),
})

/** The JSON Schema (draft 2020-12) of a descriptor, for other implementations. */
export function descriptorJsonSchema (): Record<string, unknown> {
  return z.toJSONSchema(DescriptorSchema, { target: 'draft-2020-12', io: 'input' })
}
