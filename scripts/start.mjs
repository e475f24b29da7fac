// `npm start`: a local mesh of three peer processes on 127.0.0.1 hosting the example MCP
// servers (calc on peers A and B, as replicas; notes on peer C). Prints peer A's HTTP
// endpoint and client configurations that work as pasted, runs until Ctrl-C, then stops
// every peer cleanly. Runs after the bootstrap has built the packages.
/* global fetch */
import { spawn } from 'node:child_process'
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'

const root = dirname(dirname(fileURLToPath(import.meta.url)))
const cli = join(root, 'packages', 'mcp-node', 'dist', 'cli.js')
const calc = join(root, 'examples', 'calc-server', 'server.mjs')
const notes = join(root, 'examples', 'notes-server', 'server.mjs')
const out = (s) => process.stdout.write(`${s}\n`)
const err = (s) => process.stderr.write(`npm start: ${s}\n`)

for (const f of [cli, calc, notes]) {
  if (!existsSync(f)) { err(`${f} is missing: run \`npm run build\` (the bootstrap builds the packages)`); process.exit(1) }
}

/** The preferred port if it is free, else one the system picks. */
async function port (preferred) {
  for (const p of [preferred, 0]) {
    const got = await new Promise((resolve) => {
      const s = createServer()
      s.once('error', () => resolve(undefined))
      s.listen(p, '127.0.0.1', () => { const a = s.address().port; s.close(() => resolve(a)) })
    })
    if (got !== undefined) return got
  }
  throw new Error('no free port')
}

const dir = mkdtempSync(join(tmpdir(), 'p2p-mcp-mesh-'))
const children = []
let stopping = false

function startPeer (name, config) {
  const file = join(dir, `${name}.json`)
  writeFileSync(file, JSON.stringify({ name, dataDir: join(dir, name), heartbeatIntervalMs: 1000, logLevel: 'warn', ...config }, null, 2))
  const child = spawn(process.execPath, [cli, 'start', '-c', file], { stdio: ['ignore', 'pipe', 'pipe'] })
  children.push(child)
  child.stderr.setEncoding('utf8').on('data', (s) => { for (const line of s.split('\n')) if (line.trim() !== '') process.stderr.write(`[${name}] ${line}\n`) })
  child.once('exit', (code, signal) => { if (!stopping) { err(`peer ${name} exited (${code ?? signal}); stopping the mesh`); void stop(1) } })
  return new Promise((resolve, reject) => {
    const lines = createInterface({ input: child.stdout })
    const timer = setTimeout(() => reject(new Error(`peer ${name} did not start within 60 s`)), 60_000)
    lines.on('line', (line) => {
      try {
        const msg = JSON.parse(line)
        if (msg.event === 'ready') { clearTimeout(timer); resolve({ name, file, ...msg }) }
      } catch { /* not the ready line */ }
    })
    child.once('exit', () => { clearTimeout(timer); reject(new Error(`peer ${name} exited before it was ready`)) })
  })
}

async function stop (code = 0) {
  if (stopping) return
  stopping = true
  out('\nstopping the mesh…')
  await Promise.all(children.map((c) => new Promise((resolve) => {
    if (c.exitCode !== null || c.signalCode !== null) return resolve()
    const t = setTimeout(() => c.kill('SIGKILL'), 15_000)
    c.once('exit', () => { clearTimeout(t); resolve() })
    c.kill('SIGTERM')
  })))
  rmSync(dir, { recursive: true, force: true })
  out('stopped.')
  process.exit(code)
}
process.on('SIGINT', () => { void stop(0) })
process.on('SIGTERM', () => { void stop(0) })

try {
  const httpPort = await port(Number(process.env.P2P_MCP_PORT ?? 7400))
  const a = await startPeer('A', {
    http: { port: httpPort },
    upstreams: [{ name: 'calc', type: 'stdio', command: process.execPath, args: [calc], env: { REPLICA_ID: 'A' } }],
  })
  const bootstrap = [a.multiaddrs[0]]
  await Promise.all([
    startPeer('B', { bootstrap, http: { enabled: false }, upstreams: [{ name: 'calc', type: 'stdio', command: process.execPath, args: [calc], env: { REPLICA_ID: 'B' } }] }),
    startPeer('C', { bootstrap, http: { enabled: false }, upstreams: [{ name: 'notes', type: 'stdio', command: process.execPath, args: [notes] }] }),
  ])
  // Wait until peer A serves the whole mesh.
  const healthz = a.http.replace(/\/mcp$/, '/healthz')
  const deadline = Date.now() + 30_000
  let health
  for (;;) {
    health = await (await fetch(healthz)).json()
    if (health.status === 'ok' && health.peers >= 2 && health.tools >= 8) break
    if (Date.now() > deadline) { err(`peer A is ${health.status}: ${health.reasons.join('; ')}`); break }
    await new Promise((resolve) => setTimeout(resolve, 250))
  }
  const stdioConfig = join(dir, 'stdio-client.json')
  writeFileSync(stdioConfig, JSON.stringify({ name: 'stdio', stdio: true, http: { enabled: false }, bootstrap, logLevel: 'warn' }, null, 2))
  out(`
p2p-mcp: a mesh of 3 peers on 127.0.0.1 (calc on A and B as replicas, notes on C); A serves ${health.tools} tools.

  Peer A, Streamable HTTP:   ${a.http}
  One server, original names: ${a.http.replace(/\/mcp$/, '/servers/calc/mcp')}
  Health and metrics:        ${healthz}  ${a.http.replace(/\/mcp$/, '/metrics')}

A client configuration (Claude Desktop, Cursor, VS Code, … — paste into its MCP servers config):

${JSON.stringify({ mcpServers: { 'p2p-mcp': { type: 'http', url: a.http } } }, null, 2)}

For a client that only speaks stdio, this joins the mesh as a fourth peer on its stdin/stdout:

${JSON.stringify({ mcpServers: { 'p2p-mcp': { command: process.execPath, args: [cli, 'start', '-c', stdioConfig] } } }, null, 2)}

Try it:  npx @modelcontextprotocol/inspector --cli ${a.http} --transport http --method tools/list
Ctrl-C stops the mesh.`)
} catch (e) {
  err(e.message)
  await stop(1)
}
