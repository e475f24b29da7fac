const SHORT_ESCAPES: Record<number, string> = {
  0x22: '\\"',
  0x5C: '\\\\',
  0x0A: '\\n',
  0x0D: '\\r',
  0x09: '\\t',
  0x08: '\\b',
  0x0C: '\\f',
}

/**
 * A string literal exactly as Python's `json.dumps` writes it with the default
 * `ensure_ascii=True`: `"` `\` and the five C escapes short, every other code unit outside
 * U+0020..U+007E as `\uXXXX` with lowercase hex (characters above U+FFFF become their
 * surrogate pair, which is what a JavaScript string holds already).
 */
export function pythonJsonString (s: string): string {
  let out = '"'
  let start = 0
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i)
    if (c >= 0x20 && c <= 0x7E && c !== 0x22 && c !== 0x5C) continue
    if (i > start) out += s.slice(start, i)
    out += SHORT_ESCAPES[c] ?? `\\u${c.toString(16).padStart(4, '0')}`
    start = i + 1
  }
  if (start < s.length) out += s.slice(start)
  return out + '"'
}

/**
 * `json.dumps(sorted(vector.items()), sort_keys=True)` for entries already sorted by code
 * point: a list of two-element lists with Python's default `", "` item separator.
 */
export function pythonJsonEntries (sorted: ReadonlyArray<readonly [string, number]>): string {
  const parts = new Array<string>(sorted.length)
  for (let i = 0; i < sorted.length; i++) {
    const [id, n] = sorted[i]!
    parts[i] = `[${pythonJsonString(id)}, ${n}]`
  }
  return `[${parts.join(', ')}]`
}
