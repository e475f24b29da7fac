import { createHash } from 'node:crypto'
import { MAX_TOOL_NAME_LENGTH, NAME_HASH_HEX, NAME_SEPARATOR } from './constants.js'

const PLAIN = /^[A-Za-z0-9_.-]+$/

/**
 * The aggregated name of `name` (a tool or prompt) of `server`: `<server>__<name>` when that
 * is at most 64 characters of `[A-Za-z0-9_.-]` and `server` has no `__`; otherwise the first
 * characters of the sanitized form, `_`, and 8 hex characters of sha256(server NUL name).
 * A pure function of the pair: names never change when peers come and go (decision 0061).
 */
export function meshName (server: string, name: string): string {
  const plain = `${server}${NAME_SEPARATOR}${name}`
  if (plain.length <= MAX_TOOL_NAME_LENGTH && PLAIN.test(server) && PLAIN.test(name) && !server.includes(NAME_SEPARATOR)) return plain
  const hash = createHash('sha256').update(`${server}\0${name}`).digest('hex').slice(0, NAME_HASH_HEX)
  const sanitized = `${server.replaceAll(NAME_SEPARATOR, '_')}${NAME_SEPARATOR}${name}`.replace(/[^A-Za-z0-9_.-]/g, '_')
  return `${sanitized.slice(0, MAX_TOOL_NAME_LENGTH - NAME_HASH_HEX - 1)}_${hash}`
}

/** Compiles a pattern with `*` (any run of characters) and `?` (one character) to a RegExp. */
export function globToRegExp (pattern: string): RegExp {
  const body = pattern.replace(/[.+^${}()|[\]\\]/g, '\\$&').replaceAll('*', '.*').replaceAll('?', '.')
  return new RegExp(`^${body}$`)
}
