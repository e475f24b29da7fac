// Smoke test of `npm start` (the root `start:run` script, scripts/start.mjs): the mesh it
// starts, the HTTP endpoint and the stdio client configuration it prints (used as pasted),
// and Ctrl-C stopping every process it started. It runs the built CLI (dist/), as users do;
// the build of this package is refreshed first when its sources are newer.
import { spawn, spawnSync } from 'node:child_process'
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { Client } from '@modelcontextprotocol/sdk/client/index.js'
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js'
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { root, runCli, until } from './peers.js'

const pkg = fileURLToPath(new URL('../../', import.meta.url))

function newest (path: string): number {
  const st = statSync(path)
  if (!st.isDirectory()) return st.mtimeMs
  return Math.max(st.mtimeMs, ...readdirSync(path).map((e) => newest(join(path, e))))
}

/** Process ids of every descendant of `pid` (from /proc). */
function descendants (pid: number): number[] {
  const children = new Map<number, number[]>()
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue
    let stat: string
    try { stat = readFileSync(`/proc/${entry}/stat`, 'utf8') } catch { continue }
    // pid (comm) state ppid …; comm may hold spaces and parentheses
    const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1])
    const list = children.get(ppid) ?? []
    list.push(Number(entry))
    children.set(ppid, list)
  }
  const out: number[] = []
  const walk = (p: number): void => { for (const c of children.get(p) ?? []) { out.push(c); walk(c) } }
  walk(pid)
  return out
}

function alive (pid: number): boolean {
  try {
    process.kill(pid, 0)
  } catch {
    return false
  }
  // A zombie has exited; nothing but its parent's wait() is left of it.
  try { return !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, 'utf8')) } catch { return false }
}

interface Printed { http: string, httpConfig: { mcpServers: Record<string, { type: string, url: string }> }, stdioConfig: { mcpServers: Record<string, { command: string, args: string[] }> } }

/** The endpoint and the two client configurations `npm start` printed. */
function parsePrinted (stdout: string): Printed {
  const http = /Peer A, Streamable HTTP:\s+(\S+)/.exec(stdout)?.[1]
  const blocks = [...stdout.matchAll(/^\{\n[\s\S]*?^\}$/gm)].map((m) => JSON.parse(m[0]) as unknown)
  if (http === undefined || blocks.length !== 2) throw new Error(`unexpected output of npm start:\n${stdout}`)
  return { http, httpConfig: blocks[0] as Printed['httpConfig'], stdioConfig: blocks[1] as Printed['stdioConfig'] }
}

let child: ReturnType<typeof spawn> | undefined
let dataDir: string
const clients: Client[] = []

beforeAll(() => {
  dataDir = mkdtempSync(join(tmpdir(), 'p2p-mcp-npm-start-'))
  const cli = join(pkg, 'dist', 'cli.js')
  const stale = !existsSync(cli) || Math.max(newest(join(pkg, 'src')), newest(join(pkg, 'tsup.config.ts'))) > statSync(cli).mtimeMs
  if (stale) {
    const r = spawnSync('pnpm', ['--filter', '@p2p-mcp/mcp-node', 'build'], { cwd: root, encoding: 'utf8' })
    if (r.status !== 0) throw new Error(`build of mcp-node failed:\n${r.stdout}\n${r.stderr}`)
  }
})

afterAll(async () => {
  rmSync(dataDir, { recursive: true, force: true })
  await Promise.allSettled(clients.map(async (c) => { await c.close() }))
  if (child !== undefined && child.exitCode === null && child.signalCode === null) child.kill('SIGKILL')
})

describe('npm start', () => {
  it('starts a three-peer mesh, prints configurations that work as pasted, and stops every process on Ctrl-C', async () => {
    const proc = spawn(process.execPath, [join(root, 'scripts', 'start.mjs')], {
      cwd: root,
      // Port 0: a free port, so that a developer's own `npm start` on 7400 does not matter.
      env: { ...process.env, P2P_MCP_PORT: '0', P2P_MCP_DATA_DIR: dataDir },
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    child = proc
    let stdout = ''
    let stderr = ''
    proc.stdout.setEncoding('utf8').on('data', (s: string) => { stdout += s })
    proc.stderr.setEncoding('utf8').on('data', (s: string) => { stderr += s })
    const exited = new Promise<{ code: number | null, signal: NodeJS.Signals | null }>((resolve) => { proc.once('exit', (code, signal) => { resolve({ code, signal }) }) })
    await until('npm start to print the endpoint', () => {
      if (proc.exitCode !== null) throw new Error(`npm start exited (${proc.exitCode}):\n${stdout}\n${stderr}`)
      return stdout.includes('Ctrl-C stops the mesh.') ? true : undefined
    }, 60_000, 100)
    const printed = parsePrinted(stdout)
    expect(stdout).toMatch(/a mesh of 3 peers on 127\.0\.0\.1/)
    expect(printed.httpConfig.mcpServers['p2p-mcp']).toEqual({ type: 'http', url: printed.http })

    // Every process `npm start` runs: three peers and their stdio servers (calc on A and B, notes on C).
    const tree = descendants(proc.pid!)
    expect(tree.length).toBeGreaterThanOrEqual(3 + 3)

    // The HTTP endpoint, with the SDK client.
    const http = new Client({ name: 'smoke-http', version: '1.0.0' })
    clients.push(http)
    await http.connect(new StreamableHTTPClientTransport(new URL(printed.httpConfig.mcpServers['p2p-mcp']!.url)))
    const names = (await http.listTools()).tools.map((t) => t.name)
    expect(names).toEqual(expect.arrayContaining(['mesh__status', 'calc__add', 'calc__whoami', 'notes__add_note', 'notes__list_notes']))
    expect((await http.callTool({ name: 'calc__add', arguments: { a: 19, b: 23 } })).structuredContent).toEqual({ sum: 42 })
    const note = await http.callTool({ name: 'notes__add_note', arguments: { text: 'from the smoke test' } })
    expect(note.isError).not.toBe(true)

    // The CLI's client commands against the same endpoint.
    const url = printed.http
    const [tools, peers, call, denied] = await Promise.all([
      runCli(['tools', '--url', url]),
      runCli(['peers', '--url', url]),
      runCli(['call', 'calc__multiply', '{"a":6,"b":7}', '--url', url]),
      runCli(['call', 'calc__add', 'not json', '--url', url]),
    ])
    expect(tools.code).toBe(0)
    expect(tools.stdout).toMatch(/^calc__add\tAdds two numbers\.$/m)
    expect(peers.code).toBe(0)
    expect((JSON.parse(peers.stdout) as unknown[]).length).toBe(3)
    expect(call.code).toBe(0)
    expect(JSON.parse(call.stdout)).toMatchObject({ structuredContent: { product: 42 } })
    expect(denied.code).toBe(2)
    expect(denied.stderr).toMatch(/arguments are not JSON/)

    // The stdio configuration, as pasted: the command and args exactly as printed.
    const pasted = printed.stdioConfig.mcpServers['p2p-mcp']!
    expect(pasted.command).toBe(process.execPath)
    const stdio = new Client({ name: 'smoke-stdio', version: '1.0.0' })
    clients.push(stdio)
    const transport = new StdioClientTransport({ command: pasted.command, args: pasted.args, stderr: 'ignore' })
    await stdio.connect(transport)
    const stdioPid = transport.pid
    expect(stdioPid).not.toBeNull()
    // A desktop client lists tools once, at start: the first answer has the whole mesh.
    const first = (await stdio.listTools()).tools.map((t) => t.name)
    expect(first).toEqual(expect.arrayContaining(['mesh__status', 'calc__add', 'notes__list_notes']))
    const listed = await stdio.callTool({ name: 'notes__list_notes', arguments: {} })
    expect(JSON.stringify(listed.content)).toContain('from the smoke test')
    await stdio.close()
    await until('the stdio peer to exit after its client closed', () => (alive(stdioPid!) ? undefined : true), 10_000, 50)

    await http.close()
    proc.kill('SIGINT')
    const exit = await exited
    expect(exit).toEqual({ code: 0, signal: null })
    expect(stdout).toMatch(/stopped\.\n$/)
    expect(tree.filter(alive)).toEqual([])
    // The data directory (peer keys, the stdio client's config) is kept: the printed config survives a restart.
    expect(pasted.args[pasted.args.length - 1]).toBe(join(dataDir, 'stdio-peer.json'))
    expect(existsSync(join(dataDir, 'stdio-peer.json'))).toBe(true)
    expect(stderr).not.toMatch(/exited \(|Error/)
  })
})
