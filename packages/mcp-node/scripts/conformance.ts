/* eslint-disable no-console -- a script that reports on stdout */
// Runs the official MCP conformance suite (`@modelcontextprotocol/conformance server`) twice:
// directly against @modelcontextprotocol/server-everything (Streamable HTTP), and against
// peer A's per-server endpoint /servers/everything/mcp, where peer B hosts that same server
// as an HTTP upstream and A routes to it over libp2p. Prints both summaries and the
// scenarios whose outcome differs.
//   node --import ../testkit/src/ts-hooks.ts scripts/conformance.ts
// Needs the npm registry (npx fetches both packages) or a prior install.
import { spawn } from 'node:child_process'
import { mkdtemp, readdir, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { startPeer, until } from '../test/integration/peers.js'

const PORT = Number(process.env.EVERYTHING_PORT ?? 3901)
const dir = await mkdtemp(join(tmpdir(), 'mcp-node-conformance-'))
const npx = process.platform === 'win32' ? 'npx.cmd' : 'npx'

const everything = spawn(npx, ['--yes', '@modelcontextprotocol/server-everything', 'streamableHttp'], { env: { ...process.env, PORT: String(PORT) }, stdio: ['ignore', 'ignore', 'ignore'], detached: true })
await until('server-everything', async () => {
  const r = await fetch(`http://127.0.0.1:${PORT}/mcp`, { method: 'GET' }).catch(() => undefined)
  return r === undefined ? undefined : true
}, 60_000, 250)

const a = await startPeer(dir, 'A', { logLevel: 'warn' })
const b = await startPeer(dir, 'B', {
  logLevel: 'warn', bootstrap: [a.multiaddrs[0]], http: { enabled: false },
  upstreams: [{ name: 'everything', type: 'http', url: `http://127.0.0.1:${PORT}/mcp` }],
})
await until('everything on A', async () => ((await fetch(a.http!.replace(/\/mcp$/, '/healthz')).then(async (r) => await r.json() as { tools: number })).tools > 5 ? true : undefined), 60_000, 250)

async function suite (label: string, url: string): Promise<Map<string, string>> {
  const out = join(dir, label)
  const child = spawn(npx, ['--yes', '@modelcontextprotocol/conformance', 'server', '--url', url, '-o', out], { stdio: ['ignore', 'pipe', 'pipe'] })
  let text = ''
  child.stdout.setEncoding('utf8').on('data', (s: string) => { text += s })
  child.stderr.setEncoding('utf8').on('data', (s: string) => { text += s })
  const code = await new Promise<number | null>((resolve) => { child.once('exit', resolve) })
  console.log(`\n=== ${label}: ${url} (exit ${code}) ===\n${text.split('\n').filter((l) => /pass|fail|warn|total|scenario/i.test(l)).slice(-60).join('\n')}`)
  const results = new Map<string, string>()
  for (const line of text.split('\n')) {
    const m = /^\s*([✓✗⚠])\s+([^\s:]+)/.exec(line)
    if (m !== null) results.set(m[2]!, m[1]!)
  }
  const files = await readdir(out, { recursive: true }).catch(() => [] as string[])
  console.log(`(${files.length} result files in ${out})`)
  return results
}

try {
  const direct = await suite('direct', `http://127.0.0.1:${PORT}/mcp`)
  const mesh = await suite('mesh', a.http!.replace(/\/mcp$/, '/servers/everything/mcp'))
  const worse = [...direct].filter(([s, r]) => r === '✓' && mesh.get(s) !== '✓').map(([s]) => s)
  console.log(`\nscenarios passing directly: ${[...direct.values()].filter((r) => r === '✓').length} of ${direct.size}`)
  console.log(`scenarios passing through the mesh: ${[...mesh.values()].filter((r) => r === '✓').length} of ${mesh.size}`)
  console.log(`passing directly but not through the mesh: ${worse.length === 0 ? 'none' : worse.join(', ')}`)
} finally {
  await Promise.all([a.kill('SIGTERM'), b.kill('SIGTERM')])
  // npx runs the server as its child: stop the whole process group.
  try { process.kill(-everything.pid!, 'SIGTERM') } catch { everything.kill('SIGTERM') }
  await rm(dir, { recursive: true, force: true })
}
