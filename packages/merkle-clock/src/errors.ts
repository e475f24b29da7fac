/** A decoded value for an error message (never String() of a map: a map whose toString is data makes that throw). */
export function describe (value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value.length > 80 ? `${value.slice(0, 80)}…` : value)
  if (typeof value === 'bigint') return `${value}n`
  if (typeof value === 'object' && value !== null) return Object.prototype.toString.call(value)
  return String(value)
}

/** A node id that is not a well-formed string (lone surrogates, too long, not a string). */
export class InvalidNodeIdError extends TypeError {
  override name = 'InvalidNodeIdError'
  readonly code = 'ERR_INVALID_NODE_ID'

  constructor (id: unknown, reason: string) {
    super(`node id ${describe(id)} is invalid: ${reason}; use a well-formed Unicode string of at most 4096 code units`)
  }
}

/** A counter that is not a non-negative safe integer, or a tick past Number.MAX_SAFE_INTEGER. */
export class InvalidCounterError extends RangeError {
  override name = 'InvalidCounterError'
  readonly code = 'ERR_INVALID_COUNTER'

  constructor (id: string, value: unknown) {
    super(`counter of ${describe(id)} is ${describe(value)}; counters are integers from 0 to Number.MAX_SAFE_INTEGER`)
  }
}

/** `VectorClock.fromJSON` got something that is not a clock in JSON form, or one over its limits. */
export class InvalidClockJsonError extends TypeError {
  override name = 'InvalidClockJsonError'
  readonly code = 'ERR_INVALID_CLOCK_JSON'

  constructor (reason: string, options?: ErrorOptions) {
    super(`not a vector clock in JSON form: ${reason}; pass the output of clock.toJSON()`, options)
  }
}

/** The hash carried in a clock's JSON form is not the hash of its entries. */
export class ClockHashMismatchError extends Error {
  override name = 'ClockHashMismatchError'
  readonly code = 'ERR_CLOCK_HASH_MISMATCH'

  constructor (field: string, claimed: string, actual: string) {
    super(`the clock's ${field} ${describe(claimed)} is not the hash of its entries (${actual}): ` +
      'the JSON was altered or forged; refuse it, or rebuild the clock with new VectorClock(nodeId, vector)')
  }
}

/** An event block that is not valid dag-cbor, has the wrong shape, or breaks a limit. */
export class InvalidEventError extends TypeError {
  override name = 'InvalidEventError'
  readonly code = 'ERR_INVALID_EVENT'

  constructor (reason: string, options?: ErrorOptions) {
    super(`invalid clock event: ${reason}`, options)
  }
}

/** A block larger than the configured limit. */
export class BlockTooLargeError extends RangeError {
  override name = 'BlockTooLargeError'
  readonly code = 'ERR_BLOCK_TOO_LARGE'

  constructor (what: string, size: number, limit: number, option: string) {
    super(`${what} of ${size} bytes exceeds ${option} ${limit} (raise it with { ${option} })`)
  }
}

/** A CID that is not a CIDv1 of a dag-cbor block hashed with sha2-256. */
export class UnsupportedCidError extends TypeError {
  override name = 'UnsupportedCidError'
  readonly code = 'ERR_UNSUPPORTED_CID'

  constructor (cid: unknown) {
    super(`CID ${describe(String(cid))} is not a CIDv1 of a dag-cbor (0x71) block with a sha2-256 (0x12) multihash; ` +
      'clock events are addressed only by such CIDs')
  }
}

/** A fetched block whose sha2-256 digest is not the one its CID names. */
export class HashMismatchError extends Error {
  override name = 'HashMismatchError'
  readonly code = 'ERR_HASH_MISMATCH'

  constructor (cid: string) {
    super(`the block fetched for ${cid} does not hash to that CID: the peer sent wrong or forged data; ` +
      'nothing from this merge was applied')
  }
}

/** An event that `compare`, `get` or `advance` needs is in neither the clock nor its block store. */
export class UnknownEventError extends Error {
  override name = 'UnknownEventError'
  readonly code = 'ERR_UNKNOWN_EVENT'

  constructor (cid: string) {
    super(`event ${cid} is not in this clock's block store; merge the heads that lead to it first`)
  }
}

/** `merge` was given no `fetch` and needs an event the block store lacks, or `fetch` failed. */
export class FetchError extends Error {
  override name = 'FetchError'
  readonly code = 'ERR_FETCH'

  constructor (cid: string, reason: string, options?: ErrorOptions) {
    super(`could not fetch event ${cid}: ${reason}`, options)
  }
}

/** A merge would fetch more events than `maxEvents`. */
export class TooManyEventsError extends RangeError {
  override name = 'TooManyEventsError'
  readonly code = 'ERR_TOO_MANY_EVENTS'

  constructor (limit: number) {
    super(`merge needs more than maxEvents ${limit} missing events (raise it with { maxEvents }); nothing was applied`)
  }
}

/** A heads message that is malformed or over its limits. */
export class InvalidHeadsError extends TypeError {
  override name = 'InvalidHeadsError'
  readonly code = 'ERR_INVALID_HEADS'

  constructor (reason: string, options?: ErrorOptions) {
    super(`invalid heads message: ${reason}`, options)
  }
}

/** A numeric option out of range. */
export class InvalidParametersError extends RangeError {
  override name = 'InvalidParametersError'
  readonly code = 'ERR_INVALID_PARAMETERS'

  constructor (option: string, value: unknown, expected: string) {
    super(`option ${option} is ${describe(value)}; expected ${expected}`)
  }
}

/** The message of anything thrown (an `Error`'s message, else its string form). */
export function errorMessage (err: unknown): string {
  return err instanceof Error ? err.message : String(err)
}
