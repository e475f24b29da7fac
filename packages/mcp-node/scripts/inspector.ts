/* eslint-disable no-console -- a script that reports on stdout */
// The MCP Inspector's CLI mode (`@modelcontextprotocol/inspector --cli`) against peer A's HTTP
// front door, where calc is hosted by peer B and notes by peer C: lists the tools, calls one of
// each server, reads a resource, and prints what the Inspector printed.
//   node --import ../testkit/src/ts-hooks.ts scripts/inspector.ts
// Needs the npm registry (npx fetches the Inspector) or a prior install.
import { spawn } from 'node:child_process'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { calcServer, notesServer, startPeer, until } from '../test/integration/peers.js'

const npx = process.platform === 'win32' ? 'npx.cmd' : 'npx'
const dir = await mkdtemp(join(tmpdir(), 'mcp-node-inspector-'))
const a = await startPeer(dir, 'A', { logLevel: 'warn' })
const peers = [a]
process.once('exit', () => { for (const p of peers) p.child.kill('SIGKILL') })
const b = await startPeer(dir, 'B', { logLevel: 'warn', bootstrap: [a.multiaddrs[0]], http: { enabled: false }, upstreams: [{ name: 'calc', type: 'stdio', command: process.execPath, args: [calcServer] }] })
const c = await startPeer(dir, 'C', { logLevel: 'warn', bootstrap: [a.multiaddrs[0]], http: { enabled: false }, upstreams: [{ name: 'notes', type: 'stdio', command: process.execPath, args: [notesServer] }] })
peers.push(b, c)
// calc has 7 tools, notes 2
await until('calc and notes on A', async () => ((await fetch(a.http!.replace(/\/mcp$/, '/healthz')).then(async (r) => await r.json() as { tools: number })).tools >= 9 ? true : undefined), 60_000, 250)

async function inspector (args: string[]): Promise<number | null> {
  console.log(`\n$ npx @modelcontextprotocol/inspector --cli ${a.http!} --transport http ${args.join(' ')}`)
  const child = spawn(npx, ['--yes', '@modelcontextprotocol/inspector', '--cli', a.http!, '--transport', 'http', ...args], { stdio: ['ignore', 'pipe', 'pipe'] })
  let out = ''
  child.stdout.setEncoding('utf8').on('data', (s: string) => { out += s })
  child.stderr.setEncoding('utf8').on('data', (s: string) => { if (!s.includes('npm warn')) out += s })
  const code = await new Promise<number | null>((resolve) => { child.once('exit', resolve) })
  const lines = out.trim().split('\n')
  console.log(lines.length > 40 ? [...lines.slice(0, 30), `… (${lines.length - 30} more lines)`].join('\n') : out.trim())
  console.log(`(exit ${code})`)
  return code
}

let failed = 0
try {
  const runs = [
    ['--method', 'tools/list'],
    ['--method', 'tools/call', '--tool-name', 'calc__add', '--tool-arg', 'a=20', '--tool-arg', 'b=22'],
    ['--method', 'tools/call', '--tool-name', 'notes__add_note', '--tool-arg', 'text=hello from the inspector'],
    ['--method', 'tools/call', '--tool-name', 'notes__list_notes'],
    ['--method', 'resources/read', '--uri', 'mesh://peers'],
    ['--method', 'prompts/list'],
  ]
  for (const args of runs) if (await inspector(args) !== 0) failed++
  console.log(`\n${runs.length - failed} of ${runs.length} Inspector runs succeeded`)
} finally {
  await Promise.all([a.kill('SIGTERM'), b.kill('SIGTERM'), c.kill('SIGTERM')])
  await rm(dir, { recursive: true, force: true })
}
process.exitCode = failed === 0 ? 0 : 1
