import { InvalidParametersError } from './errors.js'

export function positiveInteger (option: string, value: number | undefined, fallback: number): number {
  if (value === undefined) return fallback
  if (!Number.isSafeInteger(value) || value <= 0) throw new InvalidParametersError(option, value, 'a positive integer')
  return value
}

export function nonNegativeInteger (option: string, value: number | undefined, fallback: number): number {
  if (value === undefined) return fallback
  if (!Number.isSafeInteger(value) || value < 0) throw new InvalidParametersError(option, value, 'a non-negative integer')
  return value
}
