// The example servers, as the mesh runs them: real child processes over stdio, driven by
// the SDK's Client.
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { Client } from '@modelcontextprotocol/sdk/client/index.js'
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js'
import type { JSONRPCMessage, MessageExtraInfo } from '@modelcontextprotocol/sdk/types.js'
import {
  CreateMessageRequestSchema, ElicitRequestSchema, LoggingMessageNotificationSchema, ResourceUpdatedNotificationSchema,
} from '@modelcontextprotocol/sdk/types.js'
import { afterEach, describe, expect, it } from 'vitest'

const examples = fileURLToPath(new URL('../..', import.meta.url))
const clients: Client[] = []

async function start (name: string, env: Record<string, string> = {}): Promise<Client> {
  const transport = new StdioClientTransport({
    command: process.execPath,
    args: [join(examples, name, 'server.mjs')],
    env: { ...process.env as Record<string, string>, ...env },
    stderr: 'pipe',
  })
  const client = new Client({ name: 'examples-test', version: '1.0.0' }, { capabilities: { sampling: {}, elicitation: { form: {} } } })
  await client.connect(transport)
  keepOrder(transport)
  clients.push(client)
  return client
}

/**
 * The SDK client settles a response at once but runs notification handlers a microtask
 * later, so the last progress notification, read in one chunk with the response, finds its
 * handler gone (the mesh guards against it with OrderedTransport, decision 0063). A client
 * of the example must do the same: hand each message on one event-loop turn after the last.
 */
function keepOrder (transport: StdioClientTransport): void {
  const deliver = transport.onmessage!
  let turn = Promise.resolve()
  transport.onmessage = (message: JSONRPCMessage, extra?: MessageExtraInfo) => {
    turn = turn.then(async () => { await new Promise((resolve) => { setImmediate(resolve) }); deliver(message, extra) })
  }
}

afterEach(async () => {
  await Promise.all(clients.splice(0).map(async (c) => c.close()))
})

describe('examples/calc-server', () => {
  it('serves arithmetic with structured results and pure annotations', async () => {
    const client = await start('calc-server', { REPLICA_ID: 'r1' })
    expect(client.getServerVersion()).toMatchObject({ name: 'calc', version: '1.0.0' })
    const { tools } = await client.listTools()
    expect(tools.map((t) => t.name).sort()).toEqual(['add', 'ask_user', 'log_demo', 'multiply', 'slow_count', 'summarize', 'whoami'])
    expect(tools.find((t) => t.name === 'add')?.annotations).toMatchObject({ readOnlyHint: true, idempotentHint: true })
    expect((await client.callTool({ name: 'add', arguments: { a: 2, b: 40 } })).structuredContent).toEqual({ sum: 42 })
    expect((await client.callTool({ name: 'multiply', arguments: { a: 6, b: 7 } })).structuredContent).toEqual({ product: 42 })
    expect((await client.callTool({ name: 'whoami', arguments: {} })).structuredContent).toMatchObject({ replica: 'r1' })
    const bad = await client.callTool({ name: 'add', arguments: { a: 'x', b: 1 } })
    expect(bad.isError).toBe(true)
  })

  it('reports progress, logs, and stops when cancelled', async () => {
    const client = await start('calc-server')
    const progress: number[] = []
    await client.callTool({ name: 'slow_count', arguments: { n: 3, delayMs: 5 } }, undefined, { onprogress: (p) => progress.push(p.progress) })
    expect(progress).toEqual([1, 2, 3])

    const logs: unknown[] = []
    client.setNotificationHandler(LoggingMessageNotificationSchema, (n) => { logs.push(n.params.data) })
    await client.callTool({ name: 'log_demo', arguments: { message: 'hello', level: 'warning' } })
    expect(logs).toEqual(['hello'])

    const controller = new AbortController()
    const call = client.callTool({ name: 'slow_count', arguments: { n: 1000, delayMs: 50 } }, undefined, {
      signal: controller.signal,
      onprogress: () => { controller.abort(new Error('enough')) },
    })
    await expect(call).rejects.toThrow(/enough/)
    // The server is still there after a cancelled call.
    expect((await client.callTool({ name: 'add', arguments: { a: 1, b: 1 } })).structuredContent).toEqual({ sum: 2 })
  })

  it('asks the client through elicitation and sampling', async () => {
    const client = await start('calc-server')
    client.setRequestHandler(ElicitRequestSchema, (req) => {
      expect(req.params.message).toBe('Favourite number?')
      return { action: 'accept', content: { answer: '7' } }
    })
    client.setRequestHandler(CreateMessageRequestSchema, (req) => {
      expect(JSON.stringify(req.params.messages[0])).toContain('a mesh of MCP servers')
      return { role: 'assistant', model: 'test-model', content: { type: 'text', text: 'A short summary.' } }
    })
    const asked = await client.callTool({ name: 'ask_user', arguments: { question: 'Favourite number?' } })
    expect(asked.content).toEqual([{ type: 'text', text: 'user answered: 7' }])
    const summary = await client.callTool({ name: 'summarize', arguments: { text: 'a mesh of MCP servers' } })
    expect(summary.content).toEqual([{ type: 'text', text: 'A short summary.' }])
  })

  it('serves a resource and a prompt', async () => {
    const client = await start('calc-server', { REPLICA_ID: 'r9' })
    const about = await client.readResource({ uri: 'calc://about' })
    expect(about.contents[0]).toMatchObject({ uri: 'calc://about', text: 'calc 1.0.0, replica r9' })
    const prompt = await client.getPrompt({ name: 'explain_calculation', arguments: { expression: '6*7' } })
    expect(JSON.stringify(prompt.messages)).toContain('6*7')
  })
})

describe('examples/notes-server', () => {
  it('adds notes once per call, lists them, and announces resource updates', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'notes-'))
    try {
      const file = join(dir, 'notes.json')
      const client = await start('notes-server', { NOTES_FILE: file })
      const tools = (await client.listTools()).tools
      expect(tools.find((t) => t.name === 'add_note')?.annotations).toMatchObject({ idempotentHint: false, readOnlyHint: false })
      const updated: string[] = []
      client.setNotificationHandler(ResourceUpdatedNotificationSchema, (n) => { updated.push(n.params.uri) })
      await client.subscribeResource({ uri: 'notes://all' })
      expect((await client.callTool({ name: 'add_note', arguments: { text: 'first' } })).structuredContent).toEqual({ id: 1, count: 1 })
      expect((await client.callTool({ name: 'add_note', arguments: { text: 'second' } })).structuredContent).toEqual({ id: 2, count: 2 })
      const listed = await client.callTool({ name: 'list_notes', arguments: {} })
      expect((listed.structuredContent as { notes: Array<{ text: string }> }).notes.map((n) => n.text)).toEqual(['first', 'second'])
      expect(updated).toEqual(['notes://all', 'notes://all'])
      await client.close()
      // Notes survive a restart when NOTES_FILE is set.
      const again = await start('notes-server', { NOTES_FILE: file })
      const all = await again.readResource({ uri: 'notes://all' })
      expect(JSON.parse(all.contents[0]!.text as string)).toHaveLength(2)
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })
})
