function describe (value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value)
  if (typeof value === 'bigint') return `${value}n`
  if (typeof value === 'object' && value !== null) return Object.prototype.toString.call(value)
  return String(value)
}

/** A handle passed to `decreaseKey` or `delete` is not in this heap. */
export class ForeignHandleError extends RangeError {
  override name = 'ForeignHandleError'
  readonly code = 'ERR_FOREIGN_HANDLE'

  constructor (operation: string, handle: unknown) {
    super(`${operation}() got a handle that is not in this heap (${describe(handle)}): it was extracted, deleted, cleared, ` +
      'or inserted into another heap; check heap.has(handle) first')
  }
}

/** `decreaseKey` was asked to make a key larger. */
export class KeyIncreaseError extends RangeError {
  override name = 'KeyIncreaseError'
  readonly code = 'ERR_KEY_INCREASE'

  constructor (current: unknown, requested: unknown) {
    super(`decreaseKey() cannot raise a key from ${describe(current)} to ${describe(requested)}; ` +
      'to raise it, delete(handle) and insert the new key')
  }
}

/** A heap without a comparator was given a key that is not a number, or NaN. */
export class InvalidKeyError extends TypeError {
  override name = 'InvalidKeyError'
  readonly code = 'ERR_INVALID_KEY'

  constructor (key: unknown) {
    super(`key ${describe(key)} is not a comparable number; a heap without options.compare takes numbers other ` +
      'than NaN (pass { compare } for other keys)')
  }
}
