import canonicalize from 'canonicalize'
import { sha256 } from 'multiformats/hashes/sha2'
import { CanonicalJsonError } from './errors.js'

const encoder = new TextEncoder()

/**
 * RFC 8785 (JSON Canonicalization Scheme) text of a JSON value: object members sorted by UTF-16
 * code units, no whitespace, numbers in ECMAScript shortest form, strings minimally escaped.
 */
export function canonicalJson (value: unknown, what = 'value'): string {
  let text: string | undefined
  try {
    text = canonicalize(value)
  } catch (err) {
    throw new CanonicalJsonError(what, { cause: err })
  }
  if (text === undefined) throw new CanonicalJsonError(what)
  return text
}

function toHex (bytes: Uint8Array): string {
  let out = ''
  for (const b of bytes) out += b.toString(16).padStart(2, '0')
  return out
}

/**
 * sha256 (lowercase hex) of the RFC 8785 canonical JSON of a tool's input or output schema, so
 * every peer, in any language, computes the same hash for the same schema however its keys are
 * ordered or its numbers written.
 */
export async function schemaHash (schema: unknown): Promise<string> {
  const digest = await sha256.digest(encoder.encode(canonicalJson(schema, 'schema')))
  return toHex(digest.digest)
}
