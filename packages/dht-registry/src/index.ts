/**
 * @packageDocumentation
 *
 * Who serves what in a p2p-mcp mesh, with no central registry. Each peer signs a capability
 * descriptor (its MCP servers, their tools with RFC 8785 schema hashes, resource templates and
 * prompts, its capabilities, resources, access policy, load and SLA hints) with its libp2p key,
 * puts it into a private kad-dht, provides it under keys for each server, tool and capability,
 * and announces it over gossipsub with heartbeats that carry its load. `find()` answers from the
 * gossip-fed cache and falls back to the DHT, ranking providers by hard requirements, then the
 * hamming distance between wanted and offered capabilities, then load and latency. Providers
 * that stop heartbeating drop out; events tell when providers come, change and go.
 */
export { createRegistry, registry } from './registry.js'
export { serverFromListing } from './mcp-listing.js'
export type { McpListing } from './mcp-listing.js'
export { registryServices, registrySigner, registryValidator, registrySelector } from './services.js'
export { encodeRecord, decodeRecord, signedBytes } from './record.js'
export { canonicalJson, schemaHash } from './canonical-json.js'
export { recordKey, providerCid } from './keys.js'
export { hammingDistance, compareScores } from './ranking.js'
export { DescriptorSchema, descriptorJsonSchema } from './descriptor.js'
export {
  DHT_PROTOCOL, RECORD_NAMESPACE, REGISTRY_TOPIC, RECORD_VERSION, SIGNATURE_DOMAIN, DEFAULT_MAX_RECORD_BYTES,
} from './constants.js'
export {
  CanonicalJsonError, InvalidDescriptorError, InvalidParametersError, InvalidSignatureError, MalformedRecordError,
  MissingServiceError, PeerIdMismatchError, RecordExpiredError, RecordTooLargeError, RegistryNotStartedError,
  StaleRecordError, UnsupportedVersionError,
} from './errors.js'
export type { Registry, RegistryComponents, RegistryServiceMap } from './registry.js'
export type { RegistryServicesInit, RegistryServiceFactories, RegistryServices, RecordValidatorInit } from './services.js'
export type { RecordSigner, DecodeRecordOptions } from './record.js'
export type { ProviderKeyKind } from './keys.js'
export type {
  AccessPolicy, Descriptor, DhtPublishResult, FindOptions, FindQuery, Load, Logger, PromptEntry, ProviderEventDetail, ProviderMatch,
  ProviderRemovedEventDetail, ProviderScore, RecordRejectedEventDetail, ProviderSource, ProviderUpdatedEventDetail, PublishInput, PublishResult,
  RegistryEvents, RegistryInit, RegistryStats, RemovalReason, Requirements, Resources, ResourceTemplateEntry,
  ServerEntry, ServerInput, Sla, ToolAnnotations, ToolEntry, ToolInput,
} from './types.js'
