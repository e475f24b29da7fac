import type { z } from 'zod'
import { ControlDecodeError } from './errors.js'
import { errorMessage } from '../errors.js'

const encoder = new TextEncoder()
const decoder = new TextDecoder('utf-8', { fatal: true })

/** A module snapshot as JSON bytes. */
export function toJsonBytes (value: unknown): Uint8Array {
  return encoder.encode(JSON.stringify(value))
}

/**
 * Parses a module snapshot (it may come from another replica, in an InstallSnapshot) and checks
 * its shape: empty bytes (a module new in this release) give `undefined`; anything that is not
 * UTF-8 JSON of the `schema`'s shape throws `ControlDecodeError` naming `what`.
 */
export function fromJsonBytes<T> (data: Uint8Array, schema: z.ZodType<T>, what: string): T | undefined {
  if (data.byteLength === 0) return undefined
  let value: unknown
  try {
    value = JSON.parse(decoder.decode(data))
  } catch (err) {
    throw new ControlDecodeError(`the ${what} snapshot is not UTF-8 JSON: ${errorMessage(err)}`, { cause: err })
  }
  const parsed = schema.safeParse(value)
  if (!parsed.success) throw new ControlDecodeError(`the ${what} snapshot is malformed: ${firstIssue(parsed.error)}`)
  return parsed.data
}

/** The first zod issue as `path: message`. */
export function firstIssue (error: { issues: Array<{ path: PropertyKey[], message: string }> }): string {
  const issue = error.issues[0]
  if (issue === undefined) return 'invalid'
  return `${issue.path.length === 0 ? '(command)' : issue.path.map(String).join('.')}: ${issue.message}`
}
