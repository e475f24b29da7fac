import { readdir, readFile } from 'node:fs/promises'
import { dirname, join, normalize } from 'node:path'
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'

const src = join(dirname(fileURLToPath(import.meta.url)), '..', 'src')

/** src file → the src files it imports (type-only imports included: they tie rooms together too). */
async function importGraph (): Promise<Map<string, string[]>> {
  const graph = new Map<string, string[]>()
  const files = (await readdir(src, { recursive: true })).filter((f) => f.endsWith('.ts'))
  for (const file of files) {
    const text = await readFile(join(src, file), 'utf8')
    const deps = [...text.matchAll(/from '(\.{1,2}\/[^']+)'/g)].map((m) => normalize(join(dirname(file), m[1]!.replace(/\.js$/, '.ts'))))
    graph.set(normalize(file), deps)
  }
  return graph
}

function cycles (graph: Map<string, string[]>): string[][] {
  const found: string[][] = []
  const state = new Map<string, 'open' | 'done'>()
  const visit = (n: string, path: string[]): void => {
    state.set(n, 'open')
    for (const d of graph.get(n) ?? []) {
      if (state.get(d) === 'open') found.push([...path.slice(path.indexOf(d)), d])
      else if (state.get(d) === undefined) visit(d, [...path, d])
    }
    state.set(n, 'done')
  }
  for (const n of graph.keys()) if (state.get(n) === undefined) visit(n, [n])
  return found
}

describe('mcp-node module layout (docs/architecture.md)', () => {
  it('has no import cycle between its files, type-only imports included', async () => {
    expect(cycles(await importGraph()).map((c) => c.join(' -> '))).toEqual([])
  })

  it('finds a cycle when there is one (the check itself)', () => {
    expect(cycles(new Map([['a.ts', ['b.ts']], ['b.ts', ['a.ts']]]))).toEqual([['a.ts', 'b.ts', 'a.ts']])
  })

  it('sessions know the router only through SessionHost: session.ts imports neither node.ts nor router.ts', async () => {
    const deps = (await importGraph()).get('session.ts') ?? []
    expect(deps).not.toContain('node.ts')
    expect(deps).not.toContain('router.ts')
  })
})
