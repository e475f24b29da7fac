import { readFile, stat } from 'node:fs/promises'
import { extname } from 'node:path'
import { peerIdFromString } from '@libp2p/peer-id'
import { multiaddr } from '@multiformats/multiaddr'
import { parse as parseYaml } from 'yaml'
import { z } from 'zod'
import {
  DEFAULT_HEARTBEAT_INTERVAL_MS, DEFAULT_HTTP_HOST, DEFAULT_HTTP_PORT, DEFAULT_LIBP2P_MAX_SESSIONS, DEFAULT_LIBP2P_MAX_SESSIONS_PER_PEER, DEFAULT_LISTEN,
  DEFAULT_MAX_HTTP_SESSIONS, DEFAULT_PAGE_SIZE,
  DEFAULT_REQUEST_TIMEOUT_MS, DEFAULT_SSE_KEEPALIVE_MS, MAX_CONFIG_BYTES,
} from './constants.js'
import { HTTP_ADMISSION_DEFAULTS } from './constants.js'
import { ConfigError, errorMessage } from './errors.js'
import { ControlPlaneConfigSchema, DEFAULT_CONTROL_PLANE_CONFIG } from './control-plane/config-schema.js'
import { DEFAULT_EVENTS_CONFIG, EventsConfigSchema } from './events/config-schema.js'
import { DEFAULT_TRUST_CONFIG, TrustConfigSchema } from './trust/config-schema.js'

const nonEmpty = z.string().min(1)
const serverName = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/, 'a server name: 1 to 64 letters, digits, . _ -, starting with a letter or digit')
const ms = z.number().int().min(1).max(86_400_000)
const PORT_PROTOCOLS = new Set(['tcp', 'udp', 'sctp', 'dccp'])

/** What is wrong with a multiaddr (it parses, its ports are 0–65535, its peer ids are peer ids), or undefined. */
export function multiaddrProblem (addr: string, needsPeer: boolean): string | undefined {
  let parts: Array<{ name: string, value?: string }>
  try {
    parts = multiaddr(addr).getComponents()
  } catch (err) {
    return `${JSON.stringify(addr)} is not a multiaddr (${errorMessage(err)}); for example /ip4/127.0.0.1/tcp/4001`
  }
  for (const c of parts) {
    if (PORT_PROTOCOLS.has(c.name) && !(/^\d{1,5}$/.test(c.value ?? '') && Number(c.value) <= 65535)) {
      return `${JSON.stringify(addr)}: port ${c.value ?? '(none)'} is not a port (0 to 65535)`
    }
    if (c.name === 'p2p') {
      try { peerIdFromString(c.value ?? '') } catch { return `${JSON.stringify(addr)}: ${JSON.stringify(c.value ?? '')} is not a peer id (12D3Koo…)` }
    }
  }
  if (needsPeer && parts.at(-1)?.name !== 'p2p') return `${JSON.stringify(addr)} does not end in /p2p/<peer id>; add the bootstrap peer's id`
  return undefined
}

const checked = (needsPeer: boolean): z.ZodType<string> => z.string().superRefine((addr, ctx) => {
  const problem = multiaddrProblem(addr, needsPeer)
  if (problem !== undefined) ctx.addIssue({ code: 'custom', message: problem })
})
const multiaddrString = checked(false)
const peerIdString = z.string().superRefine((id, ctx) => {
  try { peerIdFromString(id) } catch { ctx.addIssue({ code: 'custom', message: `${JSON.stringify(id)} is not a peer id (12D3Koo…)` }) }
})

const StdioUpstreamSchema = z.strictObject({
  name: serverName,
  type: z.literal('stdio'),
  command: nonEmpty,
  args: z.array(z.string()).default([]),
  env: z.record(z.string(), z.string()).default({}),
  cwd: z.string().optional(),
})

const HttpUpstreamSchema = z.strictObject({
  name: serverName,
  type: z.literal('http'),
  url: z.url({ protocol: /^https?$/, error: 'an http:// or https:// URL' }),
  headers: z.record(z.string(), z.string()).default({}),
})

/** An upstream MCP server that can be written in a config file. */
export const UpstreamConfigSchema = z.discriminatedUnion('type', [StdioUpstreamSchema, HttpUpstreamSchema])

const PolicyRuleSchema = z.strictObject({
  principal: nonEmpty,
  allow: z.array(nonEmpty).optional(),
  deny: z.array(nonEmpty).optional(),
})

export const PolicySchema = z.strictObject({
  default: z.enum(['allow', 'deny']).default('allow'),
  rules: z.array(PolicyRuleSchema).default([]),
})

const HttpTokenSchema = z.strictObject({ token: z.string().min(16, 'at least 16 characters'), subject: nonEmpty })

const HttpSchema = z.strictObject({
  enabled: z.boolean().default(true),
  host: nonEmpty.default(DEFAULT_HTTP_HOST),
  port: z.number().int().min(0).max(65535).default(DEFAULT_HTTP_PORT),
  tokens: z.array(HttpTokenSchema).default([]),
  allowedHosts: z.array(nonEmpty).optional(),
  sseKeepAliveMs: ms.default(DEFAULT_SSE_KEEPALIVE_MS),
  maxSessions: z.number().int().min(1).default(DEFAULT_MAX_HTTP_SESSIONS),
  /** Admission limits of the HTTP front door (decision 0170); see packages/mcp-node/README.md, Configuration. */
  maxSessionsPerPrincipal: z.number().int().min(1).default(HTTP_ADMISSION_DEFAULTS.maxSessionsPerPrincipal),
  idleTimeoutMs: z.number().int().min(0).max(86_400_000).default(HTTP_ADMISSION_DEFAULTS.idleTimeoutMs),
  unusedIdleTimeoutMs: z.number().int().min(0).max(86_400_000).default(HTTP_ADMISSION_DEFAULTS.unusedIdleTimeoutMs),
  maxInFlightPerPrincipal: z.number().int().min(1).default(HTTP_ADMISSION_DEFAULTS.maxInFlightPerPrincipal),
  maxStreamsPerPrincipal: z.number().int().min(1).default(HTTP_ADMISSION_DEFAULTS.maxStreamsPerPrincipal),
  maxPendingRequests: z.number().int().min(1).default(HTTP_ADMISSION_DEFAULTS.maxPendingRequests),
  maxPendingBytes: z.number().int().min(1).default(HTTP_ADMISSION_DEFAULTS.maxPendingBytes),
  headersTimeoutMs: ms.default(HTTP_ADMISSION_DEFAULTS.headersTimeoutMs),
  bodyTimeoutMs: ms.default(HTTP_ADMISSION_DEFAULTS.bodyTimeoutMs),
})

const patterns = z.array(nonEmpty).default(['*'])

/**
 * The libp2p front door's session table (decisions 0155, 0156): other peers' route sessions and
 * MCP clients on libp2p.
 */
const Libp2pDoorSchema = z.strictObject({
  maxSessions: z.number().int().min(1).max(1_000_000).default(DEFAULT_LIBP2P_MAX_SESSIONS),
  maxSessionsPerPeer: z.number().int().min(1).max(1_000_000).default(DEFAULT_LIBP2P_MAX_SESSIONS_PER_PEER),
})

/** Which built-in `mesh__*` tools each front door lists (`*` and `?` patterns); the policy filters them further. */
export const MeshToolsSchema = z.strictObject({
  stdio: patterns,
  http: patterns,
  /** Sessions of other peers (and this peer's own route sessions). */
  libp2p: patterns,
  /** `connectClient()` sessions in this process. */
  local: patterns,
})

/** The whole configuration, as a file holds it (JSON or YAML). */
export const McpNodeConfigSchema = z.strictObject({
  name: nonEmpty.optional(),
  dataDir: nonEmpty.optional(),
  listen: z.array(multiaddrString).default([DEFAULT_LISTEN]),
  bootstrap: z.array(checked(true)).default([]),
  open: z.boolean().default(false),
  psk: nonEmpty.optional(),
  allowPeers: z.array(peerIdString).optional(),
  http: HttpSchema.default(() => HttpSchema.parse({})),
  libp2pDoor: Libp2pDoorSchema.default(() => Libp2pDoorSchema.parse({})),
  stdio: z.boolean().default(false),
  /** With `stdio`: how long the peer waits, before it answers its client, to join the mesh and load its tools. */
  stdioWaitMs: z.number().int().min(0).max(600_000).default(15_000),
  /** `/healthz`: whether a peer without connected peers is degraded; a lone peer whose own tools serve is healthy by default. */
  health: z.strictObject({ requirePeers: z.boolean().default(false) }).default({ requirePeers: false }),
  upstreams: z.array(UpstreamConfigSchema).default([]),
  timeouts: z.strictObject({
    defaultMs: ms.default(DEFAULT_REQUEST_TIMEOUT_MS),
    tools: z.record(z.string(), ms).default({}),
  }).default({ defaultMs: DEFAULT_REQUEST_TIMEOUT_MS, tools: {} }),
  policy: PolicySchema.default({ default: 'allow', rules: [] }),
  controlPlane: ControlPlaneConfigSchema.default(() => DEFAULT_CONTROL_PLANE_CONFIG),
  /** Server-name pins and peer bans (docs/security.md, "Server-name trust and revocation"). */
  trust: TrustConfigSchema.default(() => DEFAULT_TRUST_CONFIG),
  meshTools: MeshToolsSchema.default(() => MeshToolsSchema.parse({})),
  /** The mesh event stream (see packages/mcp-node/README.md, Events). */
  events: EventsConfigSchema.default(() => DEFAULT_EVENTS_CONFIG),
  heartbeatIntervalMs: z.number().int().min(50).max(3_600_000).default(DEFAULT_HEARTBEAT_INTERVAL_MS),
  /** Retries of a failed call on another replica (only of calls that are safe to repeat). */
  retry: z.strictObject({
    maxAttempts: z.number().int().min(1).max(10).default(3),
    budgetPercent: z.number().min(0).max(100).default(20),
  }).default({ maxAttempts: 3, budgetPercent: 20 }),
  balancer: z.enum(['peak-ewma', 'least-request', 'round-robin', 'weighted-round-robin', 'ring-hash']).default('peak-ewma'),
  pageSize: z.number().int().min(1).max(10_000).default(DEFAULT_PAGE_SIZE),
  logLevel: z.enum(['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent']).default('info'),
})

export type McpNodeConfigInput = z.input<typeof McpNodeConfigSchema>
export type McpNodeConfig = z.output<typeof McpNodeConfigSchema>
export type UpstreamConfig = z.output<typeof UpstreamConfigSchema>
export type PolicyConfig = z.output<typeof PolicySchema>
export type MeshToolsConfig = z.output<typeof MeshToolsSchema>

/** Validates a configuration object; throws `ConfigError` naming the first wrong field. */
export function parseConfig (input: unknown): McpNodeConfig {
  const result = McpNodeConfigSchema.safeParse(input ?? {})
  if (!result.success) {
    const issue = result.error.issues[0]!
    const field = issue.path.length === 0 ? '(root)' : issue.path.map(String).join('.')
    throw new ConfigError(field, issue.message)
  }
  const config = result.data
  const names = new Set<string>()
  config.upstreams.forEach((u, i) => {
    if (names.has(u.name)) throw new ConfigError(`upstreams.${i}.name`, `${JSON.stringify(u.name)} is used twice; each upstream needs its own name`)
    names.add(u.name)
  })
  return config
}

/** Reads and validates a JSON (`.json`) or YAML (`.yaml`, `.yml`) config file. */
export async function loadConfigFile (path: string): Promise<McpNodeConfig> {
  let size: number
  try {
    size = (await stat(path)).size
  } catch (err) {
    throw new ConfigError('(file)', `cannot read ${path}: ${errorMessage(err)}`, { cause: err })
  }
  if (size > MAX_CONFIG_BYTES) throw new ConfigError('(file)', `${path} is ${size} bytes, more than ${MAX_CONFIG_BYTES}`)
  return parseConfigText(await readFile(path, 'utf8'), path)
}

/** Parses and validates a config file's text: JSON when `path` ends in `.json`, else YAML; throws `ConfigError`. */
export function parseConfigText (text: string, path: string): McpNodeConfig {
  const json = extname(path).toLowerCase() === '.json'
  let data: unknown
  try {
    data = json ? JSON.parse(text) : parseYaml(text, { maxAliasCount: 100 })
  } catch (err) {
    throw new ConfigError('(file)', `${path} is not valid ${json ? 'JSON' : 'YAML'}: ${errorMessage(err)}`, { cause: err })
  }
  return parseConfig(data)
}
