// `npm start`: a local mesh of three peer processes on 127.0.0.1 hosting the example MCP
// servers (calc on peers A and B, as replicas; notes on peer C). Prints peer A's HTTP
// endpoint and client configurations that work as pasted, runs until SIGINT, SIGTERM or
// SIGHUP, then stops every peer cleanly (one SIGTERM each). Runs after the bootstrap has
// built the packages.
//
// What survives a restart: the peers' keys (so their ids) under the data directory
// (P2P_MCP_DATA_DIR, default .p2p-mcp/ in the repository), peer A's ports (P2P_MCP_PORT,
// default 7400, for HTTP; P2P_MCP_P2P_PORT, default P2P_MCP_PORT + 1, for libp2p), and so
// the stdio client configuration written there, which bootstraps from peer A.
/* global fetch */
import { spawn } from 'node:child_process'
import { existsSync, mkdirSync, writeFileSync } from 'node:fs'
import { createServer } from 'node:net'
import { dirname, join, resolve } from 'node:path'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'

const [major, minor] = process.versions.node.split('.').map(Number)
if (major < 22 || (major === 22 && minor < 12)) {
  process.stderr.write(`npm start: needs Node.js >= 22.12 and this is ${process.version}; run it as \`npm start\` (the bootstrap installs Node 24 when the one on PATH is older)\n`)
  process.exit(2)
}

const root = dirname(dirname(fileURLToPath(import.meta.url)))
const cli = join(root, 'packages', 'mcp-node', 'dist', 'cli.js')
const calc = join(root, 'examples', 'calc-server', 'server.mjs')
const notes = join(root, 'examples', 'notes-server', 'server.mjs')
const out = (s) => process.stdout.write(`${s}\n`)
const err = (s) => process.stderr.write(`npm start: ${s}\n`)

for (const f of [cli, calc, notes]) {
  if (!existsSync(f)) { err(`${f} is missing: run \`npm run build\` (the bootstrap builds the packages)`); process.exit(1) }
}

function portFromEnv (name, fallback) {
  const raw = process.env[name]
  if (raw === undefined || raw === '') return fallback
  const n = Number(raw)
  if (!Number.isInteger(n) || n < 0 || n > 65535) { err(`${name}=${raw} is not a port number (0 to 65535)`); process.exit(2) }
  return n
}

/** Resolves when `port` is free on 127.0.0.1 (port 0 always is); else exits with the fix. */
async function mustBeFree (port, name) {
  if (port === 0) return
  const free = await new Promise((resolve) => {
    const s = createServer()
    s.once('error', () => resolve(false))
    s.listen(port, '127.0.0.1', () => { s.close(() => resolve(true)) })
  })
  if (free) return
  err(`port ${port} (${name}) is in use on 127.0.0.1: another \`npm start\` or another program holds it.
  Stop it, or choose other ports: P2P_MCP_PORT=7410 npm start (HTTP on 7410, libp2p on 7411).`)
  process.exit(1)
}

const httpPort = portFromEnv('P2P_MCP_PORT', 7400)
const p2pPort = portFromEnv('P2P_MCP_P2P_PORT', httpPort === 0 ? 0 : httpPort + 1)
const dir = resolve(process.env.P2P_MCP_DATA_DIR || join(root, '.p2p-mcp'))
mkdirSync(dir, { recursive: true })
const children = []
let stopping = false

function startPeer (name, config) {
  const file = join(dir, `${name}.json`)
  writeFileSync(file, JSON.stringify({ name, dataDir: join(dir, name), heartbeatIntervalMs: 1000, logLevel: 'warn', ...config }, null, 2))
  // A process group of its own: a Ctrl-C in the terminal reaches this script, which stops
  // each peer once (with SIGTERM), not the peers a second time.
  const child = spawn(process.execPath, [cli, 'start', '-c', file], { stdio: ['ignore', 'pipe', 'pipe'], detached: process.platform !== 'win32' })
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
  out('stopped.')
  process.exit(code)
}
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP']) process.on(signal, () => { void stop(0) })

try {
  await mustBeFree(httpPort, 'P2P_MCP_PORT')
  await mustBeFree(p2pPort, 'P2P_MCP_P2P_PORT')
  const a = await startPeer('A', {
    listen: [`/ip4/127.0.0.1/tcp/${p2pPort}`],
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
    // calc's 7 tools and notes' 2 (the metric counts the servers' tools, not the built-in mesh__ ones)
    const meshTools = Number(/^p2p_mcp_mesh_tools (\d+)$/m.exec(await (await fetch(a.http.replace(/\/mcp$/, '/metrics'))).text())?.[1] ?? 0)
    if (health.status === 'ok' && health.peers >= 2 && meshTools >= 9) break
    if (Date.now() > deadline) { err(`peer A is ${health.status}: ${health.reasons.join('; ')}`); break }
    await new Promise((resolve) => setTimeout(resolve, 250))
  }
  // Bootstraps from peer A's fixed port and persistent id: the file stays valid across restarts.
  const stdioConfig = join(dir, 'stdio-peer.json')
  writeFileSync(stdioConfig, JSON.stringify({ name: 'stdio', stdio: true, http: { enabled: false }, bootstrap, stdioWaitMs: 15_000, logLevel: 'warn' }, null, 2))
  out(`
p2p-mcp: a mesh of 3 peers on 127.0.0.1 (calc on A and B as replicas, notes on C); A serves ${health.tools} tools.

  Peer A, Streamable HTTP:   ${a.http}
  One server, original names: ${a.http.replace(/\/mcp$/, '/servers/calc/mcp')}
  Health and metrics:        ${healthz}  ${a.http.replace(/\/mcp$/, '/metrics')}

A client configuration (Claude Desktop, Cursor, VS Code, … — paste into its MCP servers config):

${JSON.stringify({ mcpServers: { 'p2p-mcp': { type: 'http', url: a.http } } }, null, 2)}

For a client that only speaks stdio, this joins the mesh as a fourth peer on its stdin/stdout
(it answers once it has loaded the mesh's tools; the file is kept, and stays valid while
\`npm start\` runs on the same ports):

${JSON.stringify({ mcpServers: { 'p2p-mcp': { command: process.execPath, args: [cli, 'start', '-c', stdioConfig] } } }, null, 2)}

Try it:  npx @modelcontextprotocol/inspector --cli ${a.http} --transport http --method tools/list
Ctrl-C stops the mesh.`)
} catch (e) {
  err(e.message)
  await stop(1)
}
