import { readFile, writeFile } from 'node:fs/promises'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'

// Each published package lists its public surface in its README under "## Public surface":
// one table per entry point of its exports map, one row per name its src entry exports.
// This test fails when index.ts (or a subpath entry) and the README disagree.
//   UPDATE_SURFACE=1 pnpm vitest run packages/testkit/test/public-surface.test.ts   rewrites the tables
// consensus is left out: its owner works in it in parallel (its README has no table yet).
const PACKAGES = ['fibonacci-heap', 'merkle-clock', 'transport', 'dht-registry', 'client-pool', 'consensus', 'scheduler', 'mcp-node']
const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..')
const HEADING = '## Public surface'

interface Entry { specifier: string, file: string }
type Surface = Map<string, 'value' | 'type'>

async function entries (pkg: string): Promise<Entry[]> {
  const json = JSON.parse(await readFile(join(root, pkg, 'package.json'), 'utf8')) as { name: string, exports: Record<string, string | { import: string }> }
  const out: Entry[] = []
  for (const [key, target] of Object.entries(json.exports)) {
    if (key === './package.json') continue
    const js = typeof target === 'string' ? target : target.import
    const file = js.replace(/^\.\/dist\//, 'src/').replace(/\.js$/, '.ts')
    out.push({ specifier: key === '.' ? json.name : `${json.name}${key.slice(1)}`, file })
  }
  return out
}

/** The names an entry file exports: named re-exports and local declarations. */
export function exportsOf (source: string): Surface {
  const out: Surface = new Map()
  const text = source.replace(/\/\*[\s\S]*?\*\//g, '').replace(/\/\/.*$/gm, '')
  for (const m of text.matchAll(/export\s+(type\s+)?\{([^}]*)\}/g)) {
    for (const part of m[2]!.split(',')) {
      const spec = part.trim()
      if (spec === '') continue
      const typeOnly = m[1] !== undefined || spec.startsWith('type ')
      const name = spec.replace(/^type\s+/, '').split(/\s+as\s+/).pop()!.trim()
      out.set(name, typeOnly ? 'type' : 'value')
    }
  }
  for (const m of text.matchAll(/export\s+(?:declare\s+)?(?:async\s+)?(const|let|function|class|interface|type|enum)\s+(\w+)/g)) {
    out.set(m[2]!, m[1] === 'interface' || m[1] === 'type' ? 'type' : 'value')
  }
  if (/export\s+\*/.test(text)) throw new Error('export * is not allowed in an entry point (STYLE.md)')
  return out
}

function table (specifier: string, surface: Surface): string {
  const rows = [...surface].sort(([a], [b]) => a.localeCompare(b)).map(([name, kind]) => `| \`${name}\` | ${kind} |`)
  return [`### \`${specifier}\``, '', '| export | kind |', '| --- | --- |', ...rows].join('\n')
}

/** The README's tables: entry specifier → its rows. */
function documented (readme: string): Map<string, Surface> {
  const out = new Map<string, Surface>()
  const start = readme.indexOf(`\n${HEADING}\n`)
  if (start < 0) return out
  const rest = readme.slice(start + HEADING.length + 2)
  const end = rest.search(/\n## /)
  const section = end < 0 ? rest : rest.slice(0, end)
  let current: Surface | undefined
  for (const line of section.split('\n')) {
    const h = /^### `([^`]+)`/.exec(line)
    if (h !== null) { current = new Map(); out.set(h[1]!, current); continue }
    const row = /^\| `([^`]+)` \| (value|type) \|$/.exec(line)
    if (row !== null && current !== undefined) current.set(row[1]!, row[2] as 'value' | 'type')
  }
  return out
}

async function surfaceSection (pkg: string): Promise<{ text: string, actual: Map<string, Surface> }> {
  const actual = new Map<string, Surface>()
  const tables: string[] = []
  for (const e of await entries(pkg)) {
    const s = exportsOf(await readFile(join(root, pkg, e.file), 'utf8'))
    actual.set(e.specifier, s)
    tables.push(table(e.specifier, s))
  }
  const intro = 'Everything the package exports, by entry point (checked against `src/` by `packages/testkit/test/public-surface.test.ts`; a new export is a decision).'
  return { text: `${HEADING}\n\n${intro}\n\n${tables.join('\n\n')}\n`, actual }
}

describe('public surface', () => {
  it('finds named, type and declared exports', () => {
    const s = exportsOf("export { a, b as c } from './x.js'\nexport type { T } from './t.js'\nexport { type U, v } from './u.js'\nexport function f () {}\nexport interface I {}")
    expect([...s]).toEqual([['a', 'value'], ['c', 'value'], ['T', 'type'], ['U', 'type'], ['v', 'value'], ['f', 'value'], ['I', 'type']])
  })

  for (const pkg of PACKAGES) {
    it(`${pkg}: the README lists exactly what its entry points export`, async () => {
      const file = join(root, pkg, 'README.md')
      const readme = await readFile(file, 'utf8')
      const { text, actual } = await surfaceSection(pkg)
      if (process.env.UPDATE_SURFACE === '1') {
        const start = readme.indexOf(`\n${HEADING}\n`)
        let next: string
        if (start < 0) {
          next = `${readme.trimEnd()}\n\n${text}`
        } else {
          const rest = readme.slice(start + 1)
          const end = rest.slice(HEADING.length).search(/\n## /)
          next = readme.slice(0, start + 1) + text + (end < 0 ? '' : rest.slice(HEADING.length + end))
        }
        await writeFile(file, next)
        return
      }
      const listed = documented(readme)
      expect([...listed.keys()].sort(), `${pkg}/README.md ${HEADING}: entry points`).toEqual([...actual.keys()].sort())
      for (const [specifier, surface] of actual) {
        expect(Object.fromEntries([...listed.get(specifier) ?? []].sort()), `${pkg}/README.md: ${specifier}`)
          .toEqual(Object.fromEntries([...surface].sort()))
      }
    })
  }
})
