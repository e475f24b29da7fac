// Every README code block presented as runnable runs as written: extracted, saved inside the
// package it documents (so that its imports resolve as they would for a user of that
// package) and run with Node as a module. A block that is not meant to run says why in a
// `<!-- not run: … -->` comment right before it. The README's shell paths (npm start, the
// CLI, the two-machine walk-through, the release) are run by scripts/newcomer.sh.
import { spawn } from 'node:child_process'
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterAll, describe, expect, it } from 'vitest'

interface Block { file: string, line: number, code: string, host: string, notRun: string | undefined }

/**
 * Every ```ts and ```js block of README.md, examples/README.md and packages/<name>/README.md,
 * with why it is not run when a `<!-- not run: <why> -->` comment stands right before it.
 */
function readmeBlocks (root: string): Block[] {
  const files = ['README.md', join('examples', 'README.md'), ...readdirSync(join(root, 'packages')).map((p) => join('packages', p, 'README.md'))]
  const blocks: Block[] = []
  for (const file of files) {
    if (!existsSync(join(root, file))) continue
    const text = readFileSync(join(root, file), 'utf8')
    for (const m of text.matchAll(/^```(?:ts|js|typescript|javascript)\n([\s\S]*?)^```$/gm)) {
      const before = text.slice(0, m.index).trimEnd()
      const skip = /<!--\s*not run:\s*([\s\S]*?)-->$/.exec(before)
      // A package's README runs inside that package (its dependencies, its own name); the others inside mcp-node.
      const host = file.startsWith('packages') ? join('packages', file.split(/[\\/]/)[1]!) : join('packages', 'mcp-node')
      blocks.push({ file, line: text.slice(0, m.index).split('\n').length, code: m[1]!, host, notRun: skip?.[1]?.trim() })
    }
  }
  return blocks
}

const root = fileURLToPath(new URL('../../../../', import.meta.url))
const blocks = readmeBlocks(root)
const made = new Set<string>()

afterAll(() => { for (const dir of made) rmSync(dir, { recursive: true, force: true }) })

async function run (block: Block): Promise<{ code: number | null, output: string }> {
  const dir = join(root, block.host, '.readme-blocks')
  mkdirSync(dir, { recursive: true })
  made.add(dir)
  const file = join(dir, `${block.file.replace(/[\\/]/g, '_')}-${block.line}.mts`)
  writeFileSync(file, block.code)
  const child = spawn(process.execPath, [file], { cwd: join(root, block.host), stdio: ['ignore', 'pipe', 'pipe'] })
  let output = ''
  child.stdout.setEncoding('utf8').on('data', (s: string) => { output += s })
  child.stderr.setEncoding('utf8').on('data', (s: string) => { output += s })
  const timer = setTimeout(() => { child.kill('SIGKILL') }, 90_000)
  const code = await new Promise<number | null>((resolve) => { child.once('exit', (c) => { resolve(c) }) })
  clearTimeout(timer)
  return { code, output }
}

describe('README code blocks', () => {
  it('finds the blocks (the extraction itself works)', () => {
    expect(blocks.filter((b) => b.notRun === undefined).length).toBeGreaterThanOrEqual(10)
    for (const b of blocks) if (b.notRun !== undefined) expect(b.notRun, `${b.file}:${b.line} says why it is not run`).not.toBe('')
  })

  for (const block of blocks.filter((b) => b.notRun === undefined)) {
    it(`${block.file}:${block.line} runs`, async () => {
      const { code, output } = await run(block)
      expect({ code, output: code === 0 ? '' : output }).toEqual({ code: 0, output: '' })
    }, 120_000)
  }
})
