// Runs the official MCP conformance suites at pinned versions against two upstreams, each
// reached three ways, and compares the verdicts scenario by scenario:
//   suites:    @modelcontextprotocol/conformance@0.1.16 (2025-11-25 server scenarios),
//              @0.2.0-alpha.12 --requirements 2025-11-25, and --requirements 2026-07-28
//   upstreams: @modelcontextprotocol/server-everything (SDK 1.x, its own tool names) and
//              examples/reference-server (SDK v2, the suites' names, both eras)
//   paths:     direct; peer A's per-server endpoint /servers/<name>/mcp (peer B hosts the
//              upstream, A reaches it over libp2p); peer A's whole-mesh endpoint /mcp
// Only scored scenarios count (the suites' own "not scored" lists are left out).
//   node --import ./packages/testkit/src/ts-hooks.ts scripts/conformance.ts [--json out.json] [--only <upstream>] [--suite <label>]
// Needs the npm registry (npx fetches the suites and server-everything) or a warm npx cache.
import { spawn } from 'node:child_process'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { serveReference } from '../examples/reference-server/server.ts'
import { startPeer, until as untilPeer } from '../packages/mcp-node/test/integration/peers.ts'
import { startEverything } from './mcp-servers.ts'

const { values: args } = parseArgs({ options: { json: { type: 'string' }, only: { type: 'string' }, suite: { type: 'string' } } })
const npx = process.platform === 'win32' ? 'npx.cmd' : 'npx'

interface Suite { label: string, pkg: string, extra: string[] }
const SUITES: Suite[] = [
  { label: '0.1.16', pkg: '@modelcontextprotocol/conformance@0.1.16', extra: [] },
  { label: 'alpha.12 2025-11-25', pkg: '@modelcontextprotocol/conformance@0.2.0-alpha.12', extra: ['--requirements', '2025-11-25'] },
  { label: 'alpha.12 2026-07-28', pkg: '@modelcontextprotocol/conformance@0.2.0-alpha.12', extra: ['--requirements', '2026-07-28'] },
].filter((s) => args.suite === undefined || s.label === args.suite)

type Verdicts = Map<string, boolean>

/** Runs one suite against `url`; returns the verdict of every scored scenario. */
async function runSuite (suite: Suite, url: string): Promise<{ verdicts: Verdicts, exit: number | null }> {
  const child = spawn(npx, ['--yes', suite.pkg, 'server', '--url', url, ...suite.extra], { stdio: ['ignore', 'pipe', 'pipe'] })
  let text = ''
  child.stdout.setEncoding('utf8').on('data', (s: string) => { text += s })
  child.stderr.setEncoding('utf8').on('data', (s: string) => { text += s })
  const exit = await new Promise<number | null>((resolve) => { child.once('exit', resolve) })
  const [scored = '', unscored = ''] = text.split(/Not scored for/)
  const skip = new Set([...unscored.matchAll(/^\s*[✓✗⚠]\s+(\S+)/gm)].map((m) => m[1]!))
  const verdicts: Verdicts = new Map()
  for (const m of scored.matchAll(/^\s*([✓✗⚠])\s+([^\s:]+):/gm)) if (!skip.has(m[2]!)) verdicts.set(m[2]!, m[1] === '✓')
  if (verdicts.size === 0) throw new Error(`${suite.label} against ${url} reported no scenarios (exit ${exit}):\n${text.slice(-2000)}`)
  return { verdicts, exit }
}

const passed = (v: Verdicts): number => [...v.values()].filter(Boolean).length
const differ = (a: Verdicts, b: Verdicts): string[] => [...a.keys()].filter((s) => a.get(s) !== b.get(s))

const dir = await mkdtemp(join(tmpdir(), 'p2p-mcp-conformance-'))
const everything = await startEverything(Number(process.env.EVERYTHING_PORT ?? 3901))
const reference = await serveReference({ port: Number(process.env.REFERENCE_PORT ?? 3902) })
const upstreams = [
  { name: 'everything', url: everything.url.href },
  { name: 'reference', url: reference.url.href },
].filter((u) => args.only === undefined || u.name === args.only)

const a = await startPeer(dir, 'A', { logLevel: 'warn' })
const b = await startPeer(dir, 'B', {
  logLevel: 'warn', bootstrap: [a.multiaddrs[0]], http: { enabled: false },
  upstreams: upstreams.map((u) => ({ name: u.name, type: 'http', url: u.url })),
})
const base = a.http!.replace(/\/mcp$/, '')
await untilPeer('both upstreams on A', async () => {
  const ok = await Promise.all(upstreams.map(async (u) => (await fetch(`${base}/servers/${u.name}/mcp`, { method: 'POST', headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream' }, body: '{}' })).status !== 404))
  return ok.every(Boolean) ? true : undefined
}, 60_000, 250)

interface Row { upstream: string, suite: string, direct: Verdicts, server: Verdicts, mesh: Verdicts }
const rows: Row[] = []
let unfaithful = 0
try {
  for (const u of upstreams) {
    for (const suite of SUITES) {
      const [direct, server, mesh] = [
        await runSuite(suite, u.url),
        await runSuite(suite, `${base}/servers/${u.name}/mcp`),
        await runSuite(suite, `${base}/mcp`),
      ]
      rows.push({ upstream: u.name, suite: suite.label, direct: direct.verdicts, server: server.verdicts, mesh: mesh.verdicts })
      const off = differ(direct.verdicts, server.verdicts)
      // A scenario that passes directly must pass through the peer; one that passes only through
      // the peer (its Host check, its 2026 front for a 2025-only server) is listed, not counted.
      if (off.some((s) => direct.verdicts.get(s) === true)) unfaithful++
      console.log(`${u.name} / ${suite.label}: direct ${passed(direct.verdicts)}/${direct.verdicts.size}, per-server ${passed(server.verdicts)}/${server.verdicts.size}, whole mesh ${passed(mesh.verdicts)}/${mesh.verdicts.size}`)
      console.log(`  per-server ≠ direct: ${off.length === 0 ? 'none' : off.map((s) => `${s} (direct ${direct.verdicts.get(s) === true ? 'pass' : 'fail'})`).join(', ')}`)
      const lost = [...direct.verdicts].filter(([s, ok]) => ok && mesh.verdicts.get(s) !== true).map(([s]) => s)
      console.log(`  pass directly, fail through the whole mesh: ${lost.length === 0 ? 'none' : lost.join(', ')}`)
    }
  }
} finally {
  await Promise.all([a.kill('SIGTERM'), b.kill('SIGTERM')])
  everything.stop()
  await reference.close()
  await rm(dir, { recursive: true, force: true })
}

console.log('\n| upstream | suite | direct | per-server endpoint | whole-mesh endpoint | every direct pass passes per-server |')
console.log('| --- | --- | --- | --- | --- | --- |')
for (const r of rows) {
  const off = differ(r.direct, r.server)
  const worse = off.filter((s) => r.direct.get(s) === true)
  const better = off.filter((s) => r.direct.get(s) !== true)
  const verdict = off.length === 0 ? 'yes' : worse.length > 0 ? `no: ${worse.join(', ')} fail through the peer` : `yes, and ${better.length} more pass through the peer`
  console.log(`| ${r.upstream} | ${r.suite} | ${passed(r.direct)}/${r.direct.size} | ${passed(r.server)}/${r.server.size} | ${passed(r.mesh)}/${r.mesh.size} | ${verdict} |`)
}
if (args.json !== undefined) {
  await writeFile(args.json, JSON.stringify(rows.map((r) => ({ ...r, direct: Object.fromEntries(r.direct), server: Object.fromEntries(r.server), mesh: Object.fromEntries(r.mesh) })), null, 2))
}
process.exitCode = unfaithful === 0 ? 0 : 1
