// The code blocks of the READMEs that are presented as runnable: every ```ts and ```js block
// of README.md, examples/README.md and packages/*/README.md, except one right after a
// `<!-- not run: <why> -->` comment (a type, a fragment that needs a running node, a test file).
// Used by scripts/test/readme-code-blocks.test.ts (in `npm test`).
import { existsSync, readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'

/** Every ts/js block of the repository's READMEs: where it is, its code, and why it is not run (if so). */
export function readmeBlocks (root) {
  const files = ['README.md', join('examples', 'README.md')]
  for (const pkg of readdirSync(join(root, 'packages'))) files.push(join('packages', pkg, 'README.md'))
  const blocks = []
  for (const file of files) {
    const path = join(root, file)
    if (!existsSync(path)) continue
    const text = readFileSync(path, 'utf8')
    const fence = /^```(ts|js|typescript|javascript)\n([\s\S]*?)^```$/gm
    for (let m = fence.exec(text); m !== null; m = fence.exec(text)) {
      const before = text.slice(0, m.index).trimEnd()
      const skip = /<!--\s*not run:\s*([\s\S]*?)-->$/.exec(before)
      const line = text.slice(0, m.index).split('\n').length
      // A package's README runs inside that package (its dependencies, its own name); the others inside mcp-node.
      const host = file.startsWith('packages') ? join('packages', file.split(/[\\/]/)[1]) : join('packages', 'mcp-node')
      blocks.push({ file, line, code: m[2], host, notRun: skip?.[1].trim() })
    }
  }
  return blocks
}
