import { readFile, stat } from 'node:fs/promises'
import { extname } from 'node:path'
import { peerIdFromString } from '@libp2p/peer-id'
import { multiaddr } from '@multiformats/multiaddr'
import { parse as parseYaml } from 'yaml'
import { z } from 'zod'
import {
  DEFAULT_HEARTBEAT_INTERVAL_MS, DEFAULT_HTTP_HOST, DEFAULT_HTTP_PORT, DEFAULT_LIBP2P_MAX_SESSIONS, DEFAULT_LIBP2P_MAX_SESSIONS_PER_PEER, DEFAULT_LISTEN,
  DEFAULT_MAX_HTTP_SESSIONS, DEFAULT_PAGE_SIZE,
  DEFAULT_REQUEST_TIMEOUT_MS, DEFAULT_SSE_KEEPALIVE_MS, MAX_CONFIG_BYTES, DEFAULT_AUDIT_MAX_ENTRIES, DEFAULT_LIMITS_SHARE_INTERVAL_MS,
  DEFAULT_LIMITS_MAX_KEYS,
} from './constants.js'
import { HTTP_ADMISSION_DEFAULTS } from './constants.js'
import { ConfigError, errorMessage } from './errors.js'
import { ASYMMETRIC_ALGORITHMS, DEFAULT_JWKS_COOLDOWN_MS, DEFAULT_JWKS_MAX_AGE_MS, DEFAULT_JWKS_TIMEOUT_MS, DEFAULT_VERIFIED_TOKEN_CACHE } from './auth/oauth.js'
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

const patternList = z.array(nonEmpty).max(1024)
const AllowDenySchema = z.strictObject({ allow: patternList.optional(), deny: patternList.optional() })
const perMinute = z.number().int().min(1).max(100_000_000)
const concurrency = z.number().int().min(1).max(1_000_000)

/** One permission rule: a principal pattern, optionally scopes, and allow/deny patterns per kind. */
const PolicyRuleSchema = z.strictObject({
  /** A typed principal pattern (`peer:*`, `oauth:<issuer>#<sub>`, `token:ci-*`, `local`, `*`); one without a kind is deprecated (decision 0175). */
  principal: nonEmpty,
  /** The rule applies only to callers whose access token holds every one of these scopes (policy command v2). */
  scopes: z.array(nonEmpty).max(64).optional(),
  /** Tool patterns (aggregated names, `calc__*`). */
  allow: patternList.optional(),
  deny: patternList.optional(),
  /** Resource URI patterns (`file:///docs/*`, `mesh://audit*`) (policy command v2). */
  resources: AllowDenySchema.optional(),
  /** Prompt patterns (aggregated names) (policy command v2). */
  prompts: AllowDenySchema.optional(),
})

/** A rate or concurrency limit per principal (policy command v2), enforced at the entry peer, shared mesh-wide by gossip. */
const PrincipalLimitSchema = z.strictObject({
  /** Pattern: each principal that matches gets its own budget. */
  principal: nonEmpty,
  /** Server pattern: given, each matching server has its own budget; absent, one budget for all servers. */
  server: nonEmpty.optional(),
  requestsPerMinute: perMinute.optional(),
  /** Requests admitted at once after an idle spell. @default max(1, requestsPerMinute / 60) */
  burst: z.number().int().min(1).max(1_000_000).optional(),
  maxConcurrent: concurrency.optional(),
}).refine((l) => l.requestsPerMinute !== undefined || l.maxConcurrent !== undefined, 'a limit needs requestsPerMinute or maxConcurrent')

/** The access policy of a server (seed 000): enforced by each peer that serves it, for all callers together. */
export const ServerAccessPolicySchema = z.strictObject({
  requestsPerMinute: perMinute.optional(),
  burst: z.number().int().min(1).max(1_000_000).optional(),
  maxConcurrentExecutions: concurrency.optional(),
})

export const PolicySchema = z.strictObject({
  default: z.enum(['allow', 'deny']).default('allow'),
  rules: z.array(PolicyRuleSchema).max(10_000).default([]),
  /** Per-principal limits (policy command v2). */
  limits: z.array(PrincipalLimitSchema).max(1024).optional(),
  /** Per-server access policies that override the servers' own (policy command v2). */
  servers: z.record(serverName, ServerAccessPolicySchema).optional(),
})

const StdioUpstreamSchema = z.strictObject({
  name: serverName,
  /** Rate and concurrency limits this peer enforces for the server and announces in its descriptor. */
  accessPolicy: ServerAccessPolicySchema.optional(),
  type: z.literal('stdio'),
  command: nonEmpty,
  args: z.array(z.string()).default([]),
  env: z.record(z.string(), z.string()).default({}),
  cwd: z.string().optional(),
})

const HttpUpstreamSchema = z.strictObject({
  name: serverName,
  accessPolicy: ServerAccessPolicySchema.optional(),
  type: z.literal('http'),
  url: z.url({ protocol: /^https?$/, error: 'an http:// or https:// URL' }),
  headers: z.record(z.string(), z.string()).default({}),
})

/** An upstream MCP server that can be written in a config file. */
export const UpstreamConfigSchema = z.discriminatedUnion('type', [StdioUpstreamSchema, HttpUpstreamSchema])

const HttpTokenSchema = z.strictObject({ token: z.string().min(16, 'at least 16 characters'), subject: nonEmpty })

/** An https URL, or http on a loopback host (OAuth 2.1 §1.5: authorization servers and resources use TLS). */
const secureUrl = z.url({ protocol: /^https?$/, error: 'an https:// URL' }).superRefine((u, ctx) => {
  const url = new URL(u)
  if (url.protocol === 'http:' && !['127.0.0.1', 'localhost', '[::1]'].includes(url.hostname)) {
    ctx.addIssue({ code: 'custom', message: `${JSON.stringify(u)} is plain http on a non-loopback host; OAuth needs https:// (http only on 127.0.0.1, localhost, [::1])` })
  }
})

const OAuthIssuerSchema = z.strictObject({
  /** The `iss` of its tokens, exactly as the authorization server's metadata names it. */
  issuer: secureUrl,
  /** Its JWKS; discovered from its metadata (RFC 8414, then OpenID Connect) when absent. */
  jwksUri: secureUrl.optional(),
  algorithms: z.array(z.enum(ASYMMETRIC_ALGORITHMS, {
    error: (issue) => `${JSON.stringify(issue.input)} is not accepted: an asymmetric JWS algorithm (${ASYMMETRIC_ALGORITHMS.join(', ')}); none and HS* never are`,
  })).min(1).default([...ASYMMETRIC_ALGORITHMS]),
})

/** The HTTP front door as an OAuth 2.1 resource server (MCP authorization; docs/security.md). */
const OAuthSchema = z.strictObject({
  /** The mesh's resource URI: tokens must carry it in `aud`. Unset: this peer's own front door origin (a per-peer resource). */
  resource: secureUrl.optional(),
  /** Further audiences accepted (this peer's own URL next to the mesh's, say). */
  audiences: z.array(nonEmpty).default([]),
  issuers: z.array(OAuthIssuerSchema).min(1, 'at least one trusted authorization server'),
  /** Scopes every token needs (403 insufficient_scope otherwise). */
  requiredScopes: z.array(nonEmpty).default([]),
  /** `scopes_supported` of the protected-resource metadata (default: requiredScopes). */
  scopesSupported: z.array(nonEmpty).optional(),
  resourceName: nonEmpty.optional(),
  /** The URL clients reach this peer at (behind a TLS proxy): the origin of the `resource_metadata` challenge. */
  publicUrl: secureUrl.optional(),
  clockSkewS: z.number().int().min(0).max(600).default(60),
  jwksTimeoutMs: ms.default(DEFAULT_JWKS_TIMEOUT_MS),
  jwksCooldownMs: z.number().int().min(0).max(86_400_000).default(DEFAULT_JWKS_COOLDOWN_MS),
  jwksMaxAgeMs: ms.default(DEFAULT_JWKS_MAX_AGE_MS),
  /** Verified tokens remembered until they expire (0: verify the signature on every request). */
  verifiedTokenCache: z.number().int().min(0).max(1_000_000).default(DEFAULT_VERIFIED_TOKEN_CACHE),
})

const HttpSchema = z.strictObject({
  enabled: z.boolean().default(true),
  host: nonEmpty.default(DEFAULT_HTTP_HOST),
  port: z.number().int().min(0).max(65535).default(DEFAULT_HTTP_PORT),
  tokens: z.array(HttpTokenSchema).default([]),
  /** OAuth 2.1 access tokens (JWT) from trusted issuers, next to (or instead of) the static tokens. */
  oauth: OAuthSchema.optional(),
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

const AuditConfigSchema = z.strictObject({
  /** Entries the `mesh://audit` ring buffer keeps (the oldest go first). */
  maxEntries: z.number().int().min(1).max(1_000_000).default(DEFAULT_AUDIT_MAX_ENTRIES),
  /** Write one log line (component `audit`) per call. */
  log: z.boolean().default(true),
  /** Principals (patterns) who may read `mesh://audit`, besides the control plane's admins. */
  readers: z.array(nonEmpty).default(['local']),
})

const LimitsConfigSchema = z.strictObject({
  /** How often a peer gossips its usage of mesh-wide limits (per-principal limits of the replicated policy). */
  shareIntervalMs: z.number().int().min(50).max(60_000).default(DEFAULT_LIMITS_SHARE_INTERVAL_MS),
  /** Limiter states kept at once (principal × rule × server); idle ones go first. */
  maxKeys: z.number().int().min(16).max(10_000_000).default(DEFAULT_LIMITS_MAX_KEYS),
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
  /** The audit log of calls (tools/call, resources/read, prompts/get): log lines and the `mesh://audit` resource. */
  audit: AuditConfigSchema.default(() => AuditConfigSchema.parse({})),
  /** How per-principal limits are shared between peers. */
  limits: LimitsConfigSchema.default(() => LimitsConfigSchema.parse({})),
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
export type ServerAccessPolicy = z.output<typeof ServerAccessPolicySchema>
export type MeshToolsConfig = z.output<typeof MeshToolsSchema>
export type HttpConfig = z.output<typeof HttpSchema>
export type OAuthConfig = z.output<typeof OAuthSchema>
export type AuditConfig = z.output<typeof AuditConfigSchema>
export type LimitsConfig = z.output<typeof LimitsConfigSchema>

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
