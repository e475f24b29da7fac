import { MAX_FRAME_BYTES_LIMIT } from './constants.js'
import { InvalidParametersError } from './errors.js'

/** `value ?? fallback`, checked to be an integer in [min, max]; the error names `field`. */
export function intOption (field: string, value: unknown, fallback: number, min: number, max = Number.MAX_SAFE_INTEGER): number {
  if (value === undefined) return fallback
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw new InvalidParametersError(field, value, `an integer from ${min} to ${max}`)
  }
  return value
}

export function maxFrameBytesOption (value: unknown, fallback: number): number {
  return intOption('maxFrameBytes', value, fallback, 1, MAX_FRAME_BYTES_LIMIT)
}
