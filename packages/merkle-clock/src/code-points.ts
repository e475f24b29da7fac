/**
 * Orders two strings by Unicode code point, as Python's `sorted` and UTF-8 byte order do.
 * JavaScript's `<` compares UTF-16 code units, which puts U+10000..U+10FFFF (surrogate
 * pairs, 0xD800..0xDFFF) before U+E000..U+FFFF; shifting the two ranges at the first
 * differing unit restores code-point order for well-formed strings.
 */
export function compareCodePoints (a: string, b: string): number {
  if (a === b) return 0
  const n = Math.min(a.length, b.length)
  for (let i = 0; i < n; i++) {
    const x = a.charCodeAt(i)
    const y = b.charCodeAt(i)
    if (x !== y) return fixup(x) - fixup(y)
  }
  return a.length - b.length
}

function fixup (unit: number): number {
  if (unit >= 0xD800 && unit <= 0xDFFF) return unit + 0x2000
  if (unit >= 0xE000) return unit - 0x800
  return unit
}
