/**
 * @packageDocumentation
 *
 * A peer of the p2p-mcp mesh. `createMcpNode(config)` starts libp2p (TCP, Noise, yamux,
 * a private DHT and gossip), hosts MCP servers (in-process tools, stdio child processes
 * restarted with backoff, Streamable HTTP URLs), publishes them through
 * `@p2p-mcp/dht-registry`, and serves the union of the mesh over stdio, Streamable HTTP
 * and `/p2p-mcp/mcp/1.0.0`, with one upstream session per downstream session through
 * `@p2p-mcp/client-pool`, per-principal permissions enforced on `tools/call`, `resources/read`
 * and `prompts/get` and in their lists, rate and concurrency limits, an audit log, a
 * self-forming control plane (a Raft group of peers on `@p2p-mcp/consensus` holding members,
 * the replicated policy and a key-value store, extensible by modules), honest health,
 * Prometheus metrics, a mesh-wide event stream (signed events ordered and repaired by
 * Merkle clocks, a durable log, SSE and signed webhooks) and the `p2p-mcp` CLI.
 */
export { createMcpNode, McpNode } from './node.js'
export type { McpNodeOptions, McpNodeEvents } from './node.js'
export type { NodeHealth } from './health.js'
export { parseConfig, loadConfigFile, McpNodeConfigSchema } from './config.js'
export type { McpNodeConfig, McpNodeConfigInput, UpstreamConfig, PolicyConfig, MeshToolsConfig, HttpConfig, OAuthConfig, ServerAccessPolicy, AuditConfig, LimitsConfig } from './config.js'
export { meshName } from './naming.js'
export { Policy } from './policy.js'
export {
  ANONYMOUS_PRINCIPAL, InvalidPrincipalError, LOCAL_PRINCIPAL, oauthPrincipal, parsePrincipal, peerPrincipal, principalKind, principalMatcher,
  tokenPrincipal, webhookPrincipal,
} from './auth/principal.js'
export type { Identity, Principal, PrincipalKind, PrincipalMatcher } from './auth/principal.js'
export { IDENTITY_META, IdentityAssertionError } from './auth/hop-identity.js'
export type { IdentityAssertion } from './auth/hop-identity.js'
export { TokenRefusedError } from './auth/oauth.js'
export type { PolicyDecision, PolicyTargetKind } from './policy.js'
export type { AuditEntry, AuditOutcome, AuditedMethod, AuditQuery } from './audit/audit-log.js'
export { AUDIT_URI } from './audit/audit-resource.js'
export { LIMITS_TOPIC } from './limits/usage-gossip.js'
export { groupProviders, entryFingerprint } from './catalog.js'
export type { CatalogChange, ServerGroup } from './catalog.js'
export type { UpstreamSpec, InProcessUpstreamSpec, UpstreamStatus } from './upstream.js'
export type { SessionView } from './session.js'
export type { Logger } from './logger.js'
export { ConfigError, DuplicateUpstreamError, NodeNotStartedError, PolicyDeniedError, RateLimitedError } from './errors.js'
export { ControlPlane } from './control-plane/control-plane.js'
export type { ControlPlaneInit, ControlPlaneEvents, ControlPhase, ControlStatus } from './control-plane/control-plane.js'
export type { ApplyContext, ReplicatedModule, MemberRole } from './control-plane/types.js'
export type { ControlPlaneConfig } from './control-plane/config-schema.js'
export type { ReplicatedPolicy } from './control-plane/policy-module.js'
export type { KvEntry, KvEvent } from './control-plane/kv-module.js'
export type { MemberRecord } from './control-plane/members-module.js'
export type { TrustModule, TrustState, ServerPin, PeerBan } from './control-plane/trust-module.js'
export { pinHash } from './trust/server-trust.js'
export type { Refusal, RefusalReason } from './trust/server-trust.js'
export type { TrustConfig } from './trust/config-schema.js'
export { forceNewCluster } from './control-plane/recovery.js'
export type { ControlBackup, ForceNewClusterOptions, ForceNewClusterResult } from './control-plane/recovery.js'
export { CONTROL_PROTOCOL } from './control-plane/constants.js'
export {
  ClusterMismatchError, CommandRejectedError, ControlDecodeError, ControlPlaneHaltedError, ControlPlaneUnavailableError, NoQuorumError,
} from './control-plane/errors.js'
export {
  MAX_ARGUMENT_BYTES, MAX_ARGUMENT_DEPTH, MAX_TOOL_NAME_LENGTH, MESH_SERVER, NAME_SEPARATOR, POLICY_DENIED_CODE, RATE_LIMITED_CODE, REQUEST_ID_META, ROUTE_CLIENT_PREFIX,
} from './constants.js'
export { MeshEventSchema, meshEventJsonSchema } from './events/event-format.js'
export type { MeshEvent, EventInput } from './events/event-format.js'
export type { MeshEvents, MeshEventsStats } from './events/events-module.js'
export type { Delivery } from './events/event-bus.js'
export type { SubscribeOptions, ReplayFrom, Subscription } from './events/hub.js'
export type { EventsConfig, WebhookConfig } from './events/config-schema.js'
export { signWebhook, verifyWebhook, WEBHOOK_SIGNATURE_HEADER } from './events/webhooks.js'
export { EVENTS_TOPIC } from './events/constants.js'
export {
  EventLogStoppedError, EventsForbiddenError, EventTooLargeError, InvalidMeshEventError, InvalidSubscriptionError, PublishRateLimitedError,
  WebhookNotAllowedError,
} from './events/errors.js'
