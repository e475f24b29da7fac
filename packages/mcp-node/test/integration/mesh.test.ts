// End to end: three `p2p-mcp start` processes on 127.0.0.1. A hosts nothing; B hosts calc;
// C hosts calc (a replica) and notes (only C). A client talks to A's HTTP front door.
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Client } from '@modelcontextprotocol/sdk/client/index.js'
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js'
import {
  CreateMessageRequestSchema, ElicitRequestSchema, LoggingMessageNotificationSchema, McpError, ToolListChangedNotificationSchema,
} from '@modelcontextprotocol/sdk/types.js'
import type { LoggingMessageNotification } from '@modelcontextprotocol/sdk/types.js'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { calcServer, notesServer, startPeer, until, type Peer } from './peers.js'

const TOKEN = 'alice-token-0123456789abcdef'
let dir: string
let a: Peer
let b: Peer
let c: Peer
const clients: Client[] = []

const calc = (replica: string): Record<string, unknown> => ({ name: 'calc', type: 'stdio', command: process.execPath, args: [calcServer], env: { REPLICA_ID: replica } })
const notes = { name: 'notes', type: 'stdio', command: process.execPath, args: [notesServer] }
const common = { heartbeatIntervalMs: 500, logLevel: 'info' }

function cConfig (): Record<string, unknown> {
  return { ...common, name: 'C', dataDir: join(dir, 'c'), bootstrap: [a.multiaddrs[0]], http: { enabled: false }, upstreams: [calc('C'), notes] }
}

async function connect (url: string, caps: Record<string, unknown> = {}, token = TOKEN): Promise<Client> {
  const client = new Client({ name: 'e2e', version: '1.0.0' }, { capabilities: caps })
  await client.connect(new StreamableHTTPClientTransport(new URL(url), { requestInit: { headers: { authorization: `Bearer ${token}` } } }))
  clients.push(client)
  return client
}

async function toolNames (client: Client): Promise<string[]> {
  return (await client.listTools()).tools.map((t) => t.name)
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'mcp-node-e2e-'))
  a = await startPeer(dir, 'A', {
    ...common, name: 'A', dataDir: join(dir, 'a'),
    http: { tokens: [{ token: TOKEN, subject: 'alice' }], sseKeepAliveMs: 1_000 },
    policy: { rules: [{ principal: 'alice', deny: ['notes__add_note'] }] },
    // New sessions alternate between the replicas (each session then sticks to its own).
    balancer: 'round-robin',
    timeouts: { defaultMs: 30_000, tools: { calc__slow_count: 10_000 } },
  })
  ;[b, c] = await Promise.all([
    startPeer(dir, 'B', { ...common, name: 'B', dataDir: join(dir, 'b'), bootstrap: [a.multiaddrs[0]], upstreams: [calc('B')] }),
    startPeer(dir, 'C', { ...common, name: 'C', dataDir: join(dir, 'c'), bootstrap: [a.multiaddrs[0]], http: { enabled: false }, upstreams: [calc('C'), notes] }),
  ])
})

afterAll(async () => {
  await Promise.allSettled(clients.map(async (cl) => { await cl.close() }))
  await Promise.allSettled([a, b, c].filter((p) => p !== undefined).map(async (p) => { await p.kill('SIGTERM') }))
  await rm(dir, { recursive: true, force: true })
})

describe('a mesh of three peer processes', () => {
  it('serves every peer\'s tools on A and calls one hosted only on C', async () => {
    const client = await connect(a.http!)
    const names = await until('the tools of B and C on A', async () => {
      const n = await toolNames(client)
      return n.includes('calc__add') && n.includes('notes__list_notes') ? n : undefined
    })
    expect(names).toEqual(expect.arrayContaining(['mesh__status', 'calc__add', 'calc__multiply', 'calc__slow_count', 'notes__list_notes']))
    // denied by policy for alice: not listed
    expect(names).not.toContain('notes__add_note')
    const r = await client.callTool({ name: 'notes__list_notes', arguments: {} })
    expect(r.isError).not.toBe(true)
    // C alone lists calc and notes: B's replica of calc may be heard a heartbeat later.
    const s = await until('both replicas of calc on A', async () => {
      const status = await client.callTool({ name: 'mesh__status', arguments: {} })
      const v = status.structuredContent as { servers: Array<{ name: string, replicas: string[] }> }
      return (v.servers.find((x) => x.name === 'calc')?.replicas.length ?? 0) >= 2 ? v : undefined
    })
    expect(s.servers.find((x) => x.name === 'calc')?.replicas.sort()).toEqual([b.peerId, c.peerId].sort())
    expect(s.servers.find((x) => x.name === 'notes')?.replicas).toEqual([c.peerId])
    const peers = await client.readResource({ uri: 'mesh://peers' })
    expect((peers.contents[0] as { text: string }).text).toContain(c.peerId)
  })

  it('refuses a call denied by policy with a clear JSON-RPC error', async () => {
    const client = await connect(a.http!)
    const err = await client.callTool({ name: 'notes__add_note', arguments: { text: 'x' } }).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(McpError)
    expect((err as McpError).code).toBe(-32003)
    expect((err as McpError).message).toMatch(/notes__add_note.*not allowed.*alice/)
  })

  it('serves one server under its original names at /servers/<name>/mcp', async () => {
    const client = await connect(a.http!.replace(/\/mcp$/, '/servers/calc/mcp'))
    const names = await toolNames(client)
    expect(names).toEqual(expect.arrayContaining(['add', 'multiply', 'slow_count']))
    const r = await client.callTool({ name: 'add', arguments: { a: 20, b: 22 } })
    expect(r.structuredContent).toEqual({ sum: 42 })
  })

  it('carries progress, logging, sampling and elicitation across the hop', async () => {
    const client = await connect(a.http!, { sampling: {}, elicitation: {} })
    client.setRequestHandler(CreateMessageRequestSchema, (req) => ({
      model: 'test-model', role: 'assistant', content: { type: 'text', text: `summary of ${(req.params.messages[0]?.content as { text: string }).text.length} chars` },
    }))
    client.setRequestHandler(ElicitRequestSchema, (req) => ({ action: 'accept', content: { answer: `42 (asked: ${req.params.message})` } }))
    const logs: LoggingMessageNotification['params'][] = []
    client.setNotificationHandler(LoggingMessageNotificationSchema, (n) => { logs.push(n.params) })

    const progress: number[] = []
    const counted = await client.callTool({ name: 'calc__slow_count', arguments: { n: 4, delayMs: 20 } }, undefined, { onprogress: (p) => { progress.push(p.progress) } })
    expect((counted.content as Array<{ text: string }>)[0]?.text).toBe('counted to 4')
    expect(progress).toEqual([1, 2, 3, 4])

    await client.callTool({ name: 'calc__log_demo', arguments: { message: 'hello across the mesh', level: 'warning' } })
    expect(logs).toContainEqual(expect.objectContaining({ level: 'warning', data: 'hello across the mesh' }))

    const summary = await client.callTool({ name: 'calc__summarize', arguments: { text: 'a long text' } })
    expect((summary.content as Array<{ text: string }>)[0]?.text).toMatch(/^summary of \d+ chars$/)

    const asked = await client.callTool({ name: 'calc__ask_user', arguments: { question: 'the answer?' } })
    expect((asked.content as Array<{ text: string }>)[0]?.text).toBe('user answered: 42 (asked: the answer?)')
  })

  it('cancels a call on the far peer when the client cancels it', async () => {
    const client = await connect(a.http!)
    const observer = await connect(a.http!)
    const inFlight = async (): Promise<number> => {
      const r = await observer.readResource({ uri: 'mesh://peers' })
      const peers = JSON.parse((r.contents[0] as { text: string }).text) as Array<{ self: boolean, load: { inFlight: number } }>
      return peers.filter((p) => !p.self).reduce((n, p) => n + p.load.inFlight, 0)
    }
    const controller = new AbortController()
    const started = Date.now()
    // 200 steps of 50 ms: 10 s unless cancelled.
    const call = client.callTool({ name: 'calc__slow_count', arguments: { n: 200, delayMs: 50 } }, undefined, { signal: controller.signal, onprogress: () => {} })
    const outcome = call.then(() => 'finished', (err: unknown) => String(err))
    await until('the replica to report the call in flight', async () => ((await inFlight()) >= 1 ? true : undefined), 5_000)
    controller.abort(new Error('enough'))
    expect(await outcome).toMatch(/enough|abort/i)
    await until('the replica to report no call in flight', async () => ((await inFlight()) === 0 ? true : undefined), 5_000)
    expect(Date.now() - started).toBeLessThan(9_000)
  })

  it('keeps every idempotent call working when a replica is SIGKILLed, and sends list_changed when it leaves and returns', async () => {
    // Sessions stick to a replica: open sessions until some are on C (whoami says which).
    const sessions: Client[] = []
    let onC = 0
    for (let i = 0; i < 8 && (onC < 2 || sessions.length < 4); i++) {
      const s = await connect(a.http!)
      const who = await s.callTool({ name: 'calc__whoami', arguments: {} })
      if ((who.structuredContent as { replica: string }).replica === 'C') onC++
      sessions.push(s)
    }
    expect(onC).toBeGreaterThan(0)
    const changes: number[] = []
    const watcher = sessions[0]!
    watcher.setNotificationHandler(ToolListChangedNotificationSchema, () => { changes.push(Date.now()) })

    let ok = 0
    const failures: unknown[] = []
    let running = true
    const workers = sessions.map(async (s, w) => {
      let i = 0
      while (running) {
        try {
          const r = await s.callTool({ name: 'calc__add', arguments: { a: w, b: i } })
          if ((r.structuredContent as { sum: number }).sum !== w + i) failures.push(new Error(`wrong sum ${JSON.stringify(r.structuredContent)}`))
          else ok++
        } catch (err) { failures.push(err) }
        i++
      }
    })
    await until('some calls before the kill', () => (ok >= 50 ? true : undefined))
    await c.kill('SIGKILL')
    await until('list_changed after C left', () => (changes.length >= 1 ? true : undefined), 20_000, 50)
    const afterLeave = await toolNames(watcher)
    expect(afterLeave).not.toContain('notes__list_notes')
    expect(afterLeave).toContain('calc__add')
    const okAtLeave = ok
    await until('calls after C left', () => (ok >= okAtLeave + 50 ? true : undefined))
    running = false
    await Promise.all(workers)
    expect(failures).toEqual([])

    c = await startPeer(dir, 'C', cConfig())
    await until('list_changed after C returned', () => (changes.length >= 2 ? true : undefined), 30_000, 50)
    await until('notes back on A', async () => ((await toolNames(watcher)).includes('notes__list_notes') ? true : undefined), 10_000)
  })
})
