// The `p2p-mcp` command: run a mesh peer from a config file, or talk to a running one.
// Loaded by cli.ts once the Node version is known to be recent enough.
import { randomBytes } from 'node:crypto'
import { writeFileSync } from 'node:fs'
import { parseArgs } from 'node:util'
import type { Client } from '@modelcontextprotocol/sdk/client/index.js'
import { pino } from 'pino'
import { cliSessions } from './cli-client.js'
import { loadConfigFile } from './config.js'
import type { McpNodeConfig } from './config.js'
import { WORKFLOW_USAGE, workflowCommand } from './scheduler/workflow-cli.js'
import { CONTROL_USAGE, controlCommand, policyCommand } from './control-plane/cli-commands.js'
import { TRUST_USAGE, trustCommand } from './trust/cli-commands.js'
import { errorMessage } from './errors.js'

const USAGE = `usage: p2p-mcp <command> [options]

commands:
  start  -c <config.yaml|json>            run a mesh peer until SIGINT/SIGTERM
  status [-c <config> | --url <url>]       health and mesh__status of a running peer
  peers  [-c <config> | --url <url>]       the peers of the mesh (mesh://peers)
  tools  [-c <config> | --url <url>]       the tools of the mesh
  call   <tool> [json-arguments] [-c <config> | --url <url>]
  keygen-psk [file]                        a new private-network (swarm) key, written to file (mode 0600) or printed
${WORKFLOW_USAGE}
${CONTROL_USAGE}
${TRUST_USAGE}

options:
  -c, --config <file>   JSON or YAML configuration
      --url <url>       a peer's HTTP front door (default: from the config's http.host and http.port)
      --token <token>   bearer token for the HTTP front door (default: $P2P_MCP_TOKEN)
      --json            print JSON (default for status, peers, call)
  -h, --help`

/** Why the run ends early: thrown by `fail`, reported by `main().catch` once the run's sessions are ended. */
class CliExit extends Error {
  override name = 'CliExit'
  readonly exitCode: number

  constructor (exitCode: number, message: string) {
    super(message)
    this.exitCode = exitCode
  }
}

/** Exit codes: 0 done, 1 failed, 2 bad usage or configuration. */
function fail (code: number, message: string): never {
  throw new CliExit(code, message)
}

/** HTTP sessions this run opened: each is ended (DELETE) on every exit path. */
const sessions = cliSessions()

async function config (path: string | undefined): Promise<McpNodeConfig> {
  if (path === undefined) fail(2, 'a config file is needed: -c <config.yaml|json>')
  try {
    return await loadConfigFile(path)
  } catch (err) {
    if ((err as Error).name === 'ConfigError') fail(2, `${path}: ${errorMessage(err)}`)
    throw err
  }
}

async function start (path: string | undefined): Promise<void> {
  const cfg = await config(path)
  const logger = pino({ level: cfg.logLevel, base: { name: cfg.name ?? 'p2p-mcp' } }, pino.destination(2))
  // Imported here: validating a config (and failing fast on a bad one) needs none of libp2p.
  const { createMcpNode } = await import('./node.js')
  let node
  try {
    node = createMcpNode(cfg, { logger })
    await node.start()
  } catch (err) {
    if ((err as Error).name === 'ConfigError') fail(2, `${path}: ${errorMessage(err)}`)
    logger.error({ err }, 'start failed')
    await node?.stop().catch(() => {})
    if ((err as NodeJS.ErrnoException).code === 'EADDRINUSE') {
      fail(1, `${errorMessage(err)}: another process (another p2p-mcp, another \`npm start\`?) holds that port; stop it, or choose another port in ${path} (http.port, listen)`)
    }
    fail(1, errorMessage(err))
  }
  if (!cfg.stdio) {
    process.stdout.write(`${JSON.stringify({ event: 'ready', peerId: node.peerId, multiaddrs: node.multiaddrs, http: node.httpUrl?.href ?? null, events: node.config.events.enabled ? node.events.sseUrl?.href ?? null : null })}\n`)
  }
  let stopping = false
  const stop = (signal: string): void => {
    if (stopping) { logger.warn('second %s: exiting now', signal); process.exit(1) }
    stopping = true
    logger.info('%s: stopping', signal)
    node.stop().then(() => { logger.flush(); process.exit(0) }, (err: unknown) => { logger.error({ err }, 'stop failed'); process.exit(1) })
  }
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(signal, () => { stop(signal) })
}

async function client (values: { config?: string, url?: string, token?: string }): Promise<Client> {
  let url = values.url
  if (url === undefined) {
    const cfg = await config(values.config)
    if (!cfg.http.enabled || cfg.http.port === 0) fail(2, 'the config has no fixed http.port: pass --url http://127.0.0.1:<port>/mcp')
    url = `http://${cfg.http.host.includes(':') ? `[${cfg.http.host}]` : cfg.http.host}:${cfg.http.port}/mcp`
  }
  const token = values.token ?? process.env.P2P_MCP_TOKEN
  try {
    return await sessions.connect(new URL(url), token)
  } catch (err) {
    fail(1, `cannot reach ${url}: ${errorMessage(err)}`)
  }
}

function print (value: unknown): void {
  process.stdout.write(`${JSON.stringify(value, null, 2)}\n`)
}

async function main (): Promise<void> {
  let parsed
  try {
    parsed = parseArgs({
      allowPositionals: true,
      options: {
        config: { type: 'string', short: 'c' }, url: { type: 'string' }, token: { type: 'string' }, json: { type: 'boolean' }, help: { type: 'boolean', short: 'h' },
        wait: { type: 'boolean' }, tasks: { type: 'boolean' }, status: { type: 'string' }, 'request-id': { type: 'string' },
        out: { type: 'string' }, from: { type: 'string' }, 'expect-version': { type: 'string' },
        hash: { type: 'string' }, 'from-peer': { type: 'string' }, publishers: { type: 'string' }, 'any-publisher': { type: 'boolean' },
        'expect-revision': { type: 'string' }, reason: { type: 'string' },
      },
    })
  } catch (err) {
    fail(2, `${errorMessage(err)}\n${USAGE}`)
  }
  const { values, positionals } = parsed
  const [command, ...rest] = positionals
  if (values.help === true || command === undefined) { process.stdout.write(`${USAGE}\n`); process.exit(command === undefined && values.help !== true ? 2 : 0) }
  switch (command) {
    case 'start': return await start(values.config)
    case 'keygen-psk': {
      const key = `/key/swarm/psk/1.0.0/\n/base16/\n${randomBytes(32).toString('hex')}\n`
      const [file] = rest
      if (file === undefined) { process.stdout.write(key); return }
      try {
        writeFileSync(file, key, { mode: 0o600, flag: 'wx' })
      } catch (err) {
        fail(1, `cannot write ${file}: ${errorMessage(err)}${(err as NodeJS.ErrnoException).code === 'EEXIST' ? ' (a key is there already: keep it, or remove it first)' : ''}`)
      }
      process.stderr.write(`p2p-mcp: wrote a new swarm key to ${file}; copy it to every peer of the mesh out of band\n`)
      return
    }
    case 'status': {
      const c = await client(values)
      const r = await c.callTool({ name: 'mesh__status', arguments: {} })
      print(r.structuredContent)
      await c.close()
      return
    }
    case 'peers': {
      const c = await client(values)
      const r = await c.readResource({ uri: 'mesh://peers' })
      const first = r.contents[0]
      print(first !== undefined && 'text' in first ? JSON.parse(first.text) : r)
      await c.close()
      return
    }
    case 'tools': {
      const c = await client(values)
      const tools = []
      let cursor: string | undefined
      do {
        const page = await c.listTools(cursor === undefined ? {} : { cursor })
        tools.push(...page.tools)
        cursor = page.nextCursor
      } while (cursor !== undefined)
      if (values.json === true) print(tools)
      else for (const t of tools) process.stdout.write(`${t.name}\t${t.description ?? ''}\n`)
      await c.close()
      return
    }
    case 'call': {
      const [name, args] = rest
      if (name === undefined) fail(2, 'call needs a tool name: p2p-mcp call <tool> [json-arguments]')
      let parsedArgs: Record<string, unknown> = {}
      if (args !== undefined) {
        try { parsedArgs = JSON.parse(args) as Record<string, unknown> } catch (err) { fail(2, `arguments are not JSON: ${errorMessage(err)}`) }
      }
      const c = await client(values)
      try {
        const r = await c.callTool({ name, arguments: parsedArgs })
        print(r)
        await c.close()
        if (r.isError === true) process.exit(1)
      } catch (err) {
        await c.close()
        fail(1, errorMessage(err))
      }
      return
    }
    case 'workflow': return await workflowCommand(rest, { wait: values.wait, tasks: values.tasks, status: values.status, requestId: values['request-id'] }, async () => await client(values), fail)
    case 'control':
    case 'policy': {
      const helpers = { fail, print, client: async () => await client(values), config: async () => await config(values.config) }
      return command === 'control' ? await controlCommand(rest[0], values, helpers) : await policyCommand(rest[0], rest[1], values, helpers)
    }
    case 'trust': return await trustCommand(rest[0], rest[1], values, { fail, print, client: async () => await client(values), config: async () => await config(values.config) })
    default: fail(2, `unknown command ${JSON.stringify(command)}\n${USAGE}`)
  }
}

main().then(
  async () => { await sessions.closeAll() },
  async (err: unknown) => {
    await sessions.closeAll()
    const exit = err instanceof CliExit ? err : new CliExit(1, (err as Error).stack ?? String(err))
    process.stderr.write(`p2p-mcp: ${exit.message}\n`)
    process.exit(exit.exitCode)
  },
)
