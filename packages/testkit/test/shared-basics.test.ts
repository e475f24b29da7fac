import { readFile } from 'node:fs/promises'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'

const packages = join(dirname(fileURLToPath(import.meta.url)), '..', '..')

// Leaf packages may not import each other (DESIGN.md), so the one Logger shape and its no-op
// default are one file copied into each; this keeps the copies identical (decision 0081).
describe('shared basics', () => {
  it('every leaf package declares the same Logger and noopLogger (src/logger.ts)', async () => {
    const copies = await Promise.all(['transport', 'client-pool', 'dht-registry', 'merkle-clock'].map(async (p) =>
      [p, await readFile(join(packages, p, 'src', 'logger.ts'), 'utf8')] as const))
    const [, reference] = copies[0]!
    for (const [p, text] of copies) expect({ p, text }).toEqual({ p, text: reference })
  })
})
