const encoder = new TextEncoder()
const decoder = new TextDecoder()

/** A module snapshot as JSON bytes. */
export function toJsonBytes (value: unknown): Uint8Array {
  return encoder.encode(JSON.stringify(value))
}

/** Parses a module snapshot; empty bytes (a module new in this release) give `undefined`. */
export function fromJsonBytes<T> (data: Uint8Array): T | undefined {
  return data.byteLength === 0 ? undefined : JSON.parse(decoder.decode(data)) as T
}

/** The first zod issue as `path: message`. */
export function firstIssue (error: { issues: Array<{ path: PropertyKey[], message: string }> }): string {
  const issue = error.issues[0]
  if (issue === undefined) return 'invalid'
  return `${issue.path.length === 0 ? '(command)' : issue.path.map(String).join('.')}: ${issue.message}`
}
