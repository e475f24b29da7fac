function describe (value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value.length > 80 ? `${value.slice(0, 77)}...` : value)
  if (typeof value === 'bigint') return `${value}n`
  if (typeof value === 'object' && value !== null) return Object.prototype.toString.call(value)
  return String(value)
}

/** An encoded record is larger than `maxRecordBytes`; it was not decoded. */
export class RecordTooLargeError extends RangeError {
  override name = 'RecordTooLargeError'
  readonly code = 'ERR_RECORD_TOO_LARGE'

  constructor (bytes: number, maxRecordBytes: number) {
    super(`record of ${bytes} bytes exceeds maxRecordBytes ${maxRecordBytes} ` +
      '(publish fewer or smaller servers/tools, or raise { maxRecordBytes } on every peer)')
  }
}

/** The bytes are not a record envelope: not UTF-8 JSON, or missing or mistyped envelope fields. */
export class MalformedRecordError extends TypeError {
  override name = 'MalformedRecordError'
  readonly code = 'ERR_MALFORMED_RECORD'

  constructor (what: string, options?: ErrorOptions) {
    super(`malformed registry record: ${what}; a record is UTF-8 JSON ` +
      '{ "v": 1, "descriptor": {...}, "publicKey": "<base64url>", "signature": "<base64url>" }', options)
  }
}

/** The record's envelope or descriptor has a major version this peer does not read. */
export class UnsupportedVersionError extends TypeError {
  override name = 'UnsupportedVersionError'
  readonly code = 'ERR_UNSUPPORTED_VERSION'

  constructor (where: string, version: unknown) {
    super(`${where} version ${describe(version)} is not supported (this peer reads version 1); upgrade @p2p-mcp/dht-registry`)
  }
}

/** The descriptor does not match the descriptor schema. */
export class InvalidDescriptorError extends TypeError {
  override name = 'InvalidDescriptorError'
  readonly code = 'ERR_INVALID_DESCRIPTOR'
  readonly issues: readonly string[]

  constructor (issues: readonly string[], options?: ErrorOptions) {
    super(`invalid descriptor: ${issues.slice(0, 5).join('; ')}${issues.length > 5 ? ` (and ${issues.length - 5} more)` : ''}`, options)
    this.issues = issues
  }
}

/** The signature does not verify against the record's public key. */
export class InvalidSignatureError extends Error {
  override name = 'InvalidSignatureError'
  readonly code = 'ERR_INVALID_SIGNATURE'

  constructor (peerId: string) {
    super(`record for peer ${peerId} has a signature that does not verify with its public key; the record was altered or forged`)
  }
}

/** The record's public key, its descriptor's peer id and (for DHT records) its key do not name the same peer. */
export class PeerIdMismatchError extends Error {
  override name = 'PeerIdMismatchError'
  readonly code = 'ERR_PEER_ID_MISMATCH'

  constructor (what: string, expected: string, actual: string) {
    super(`${what}: expected peer ${expected}, got ${actual}; a peer may only publish its own descriptor, signed with its own key`)
  }
}

/** The record's `expiresAt` has passed, or it was issued further in the future than the allowed clock skew. */
export class RecordExpiredError extends Error {
  override name = 'RecordExpiredError'
  readonly code = 'ERR_RECORD_EXPIRED'

  constructor (peerId: string, message: string) {
    super(`record for peer ${peerId} ${message}`)
  }
}

/** A record's sequence number is lower than one already accepted for the same peer (a replay). */
export class StaleRecordError extends Error {
  override name = 'StaleRecordError'
  readonly code = 'ERR_STALE_RECORD'

  constructor (peerId: string, seq: number, highest: number) {
    super(`record for peer ${peerId} has sequence ${seq}, lower than ${highest} already accepted; an old record was replayed`)
  }
}

/** A value cannot be written as RFC 8785 canonical JSON (NaN, Infinity, lone surrogates, cycles, BigInt...). */
export class CanonicalJsonError extends TypeError {
  override name = 'CanonicalJsonError'
  readonly code = 'ERR_CANONICAL_JSON'

  constructor (what: string, options?: ErrorOptions) {
    super(`cannot write ${what} as RFC 8785 canonical JSON: ${options?.cause instanceof Error ? options.cause.message : 'not a JSON value'}; ` +
      'pass plain JSON (finite numbers, well-formed strings, no cycles)', options)
  }
}

/** An option passed to `createRegistry`, `registryServices`, `publish` or `find` is out of range. */
export class InvalidParametersError extends TypeError {
  override name = 'InvalidParametersError'
  readonly code = 'ERR_INVALID_PARAMETERS'

  constructor (option: string, value: unknown, expected: string) {
    super(`${option} is ${describe(value)}; expected ${expected}`)
  }
}

/** `publish()` or `find()` was called on a registry that is not started. */
export class RegistryNotStartedError extends Error {
  override name = 'RegistryNotStartedError'
  readonly code = 'ERR_REGISTRY_NOT_STARTED'

  constructor (operation: string) {
    super(`${operation}() needs a started registry; call await registry.start() first`)
  }
}

/** The libp2p node lacks a service the registry needs. */
export class MissingServiceError extends TypeError {
  override name = 'MissingServiceError'
  readonly code = 'ERR_MISSING_SERVICE'

  constructor (service: string) {
    super(`the libp2p node has no "${service}" service; create it with services: { ...registryServices() }`)
  }
}

const RECORD_ERRORS = new Set(['RecordTooLargeError', 'MalformedRecordError', 'UnsupportedVersionError', 'InvalidDescriptorError',
  'InvalidSignatureError', 'PeerIdMismatchError', 'RecordExpiredError', 'StaleRecordError'])

/** Whether an error says a record was bad (as opposed to a network failure). */
export function isRecordError (err: unknown): err is Error {
  return err instanceof Error && RECORD_ERRORS.has(err.name)
}
