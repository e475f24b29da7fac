import { InvalidParametersError } from '../errors.js'

/** Checks a spec field; the error names it as `spec.<field>`. */
export function check (ok: boolean, field: string, value: unknown, expected: string): void {
  if (!ok) throw new InvalidParametersError(`spec.${field}`, value, expected)
}

export function isObject (value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

export function isStringRecord (value: unknown): boolean {
  return isObject(value) && Object.values(value).every((v) => typeof v === 'string')
}

export function checkSpec (spec: unknown): Record<string, unknown> & { type: 'stdio' | 'http' | 'libp2p' | 'memory' } {
  check(isObject(spec), '', spec, "an object with a type: 'stdio' | 'http' | 'libp2p' | 'memory'")
  const s = spec as Record<string, unknown>
  check(s.type === 'stdio' || s.type === 'http' || s.type === 'libp2p' || s.type === 'memory', 'type', s.type,
    "'stdio' | 'http' | 'libp2p' | 'memory'")
  return s as Record<string, unknown> & { type: 'stdio' | 'http' | 'libp2p' | 'memory' }
}
