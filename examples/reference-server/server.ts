#!/usr/bin/env node
// A conformance-suite-style reference MCP server written with SDK v2 (@modelcontextprotocol/server):
// the tool, resource and prompt names the conformance scenarios call, served to both protocol eras
// from one factory (decision 0070).
//   2026-07-28 requests: createMcpHandler(factory, { legacy: 'reject' }): stateless, per request;
//   2025-11-25 requests: one stateful WebStandardStreamableHTTPServerTransport per session with an
//                        event store (SSE resumability), routed there by isLegacyRequest().
//   PORT=3950 node server.ts            LEGACY=stateless: the SDK's stateless 2025 fallback instead
import { randomUUID } from 'node:crypto'
import { createServer, type Server as HttpServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { fileURLToPath } from 'node:url'
import {
  McpServer, ResourceTemplate, WebStandardStreamableHTTPServerTransport, acceptedContent, createMcpHandler,
  hostHeaderValidationResponse, inputRequired, inputResponse, isLegacyRequest, localhostAllowedHostnames,
  localhostAllowedOrigins, originValidationResponse,
  type EventStore, type McpRequestContext,
} from '@modelcontextprotocol/server'
import { toNodeHandler } from '@modelcontextprotocol/node'
import { z } from 'zod'

const IMAGE = 'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8DwHwAFBQIAX8jx0gAAAABJRU5ErkJggg=='
const AUDIO = 'UklGRiYAAABXQVZFZm10IBAAAAABAAEAQB8AAAB9AAACABAAZGF0YQIAAAA='
const text = (t: string) => ({ content: [{ type: 'text' as const, text: t }] })
const wait = async (ms: number) => { await new Promise((resolve) => setTimeout(resolve, ms)) }
type ElicitSchema = Extract<Parameters<typeof inputRequired.elicit>[0], { mode?: 'form' }>['requestedSchema']
const nameSchema = { type: 'object' as const, properties: { name: { type: 'string' as const } }, required: ['name'] }

export function createReferenceServer (_ctx?: McpRequestContext): McpServer {
  const server = new McpServer({ name: 'p2p-mcp-reference-server', version: '1.0.0' }, {
    capabilities: { tools: { listChanged: true }, resources: { subscribe: true, listChanged: true }, prompts: { listChanged: true }, logging: {}, completions: {} },
  })
  const empty = z.object({})

  server.registerTool('test_simple_text', { description: 'simple text', inputSchema: empty }, () => text('This is a simple text response for testing.'))
  server.registerTool('test_image_content', { description: 'image', inputSchema: empty }, () => ({ content: [{ type: 'image', data: IMAGE, mimeType: 'image/png' }] }))
  server.registerTool('test_audio_content', { description: 'audio', inputSchema: empty }, () => ({ content: [{ type: 'audio', data: AUDIO, mimeType: 'audio/wav' }] }))
  server.registerTool('test_embedded_resource', { description: 'embedded resource', inputSchema: empty }, () => ({
    content: [{ type: 'resource', resource: { uri: 'test://embedded-resource', mimeType: 'text/plain', text: 'This is an embedded resource content.' } }],
  }))
  server.registerTool('test_multiple_content_types', { description: 'mixed content', inputSchema: empty }, () => ({
    content: [
      { type: 'text', text: 'Multiple content types test:' },
      { type: 'image', data: IMAGE, mimeType: 'image/png' },
      { type: 'resource', resource: { uri: 'test://mixed-content-resource', mimeType: 'application/json', text: '{"test":"data","value":123}' } },
    ],
  }))
  server.registerTool('test_tool_with_logging', { description: 'logs while running', inputSchema: empty }, async (_args, ctx) => {
    for (const step of ['Tool execution started', 'Tool processing data', 'Tool execution completed']) {
      await ctx.mcpReq.notify({ method: 'notifications/message', params: { level: 'info', data: step } })
      await wait(50)
    }
    return text('Tool with logging executed successfully')
  })
  server.registerTool('test_tool_with_progress', { description: 'reports progress', inputSchema: empty }, async (_args, ctx) => {
    const progressToken = ctx.mcpReq._meta?.progressToken ?? 0
    for (const progress of [0, 50, 100]) {
      await ctx.mcpReq.notify({ method: 'notifications/progress', params: { progressToken, progress, total: 100, message: `Completed step ${progress} of 100` } })
      await wait(50)
    }
    return text(String(progressToken))
  })
  server.registerTool('test_error_handling', { description: 'fails', inputSchema: empty }, () => {
    throw new Error('This tool intentionally returns an error for testing')
  })
  server.registerTool('test_reconnection', { description: 'closes its SSE stream and answers after the client reconnects', inputSchema: empty }, async () => {
    await wait(100)
    return text('Reconnection test completed')
  })

  // Written once as multi-round-trip handlers: 2026 clients get input_required results; on a
  // 2025 session the SDK's legacy shim sends real elicitation / sampling / roots requests.
  server.registerTool('test_sampling', { description: 'sampling', inputSchema: z.object({ prompt: z.string() }) }, ({ prompt }, ctx) => {
    const r = inputResponse(ctx.mcpReq.inputResponses, 'sample')
    if (r.kind === 'sampling') return text(`LLM response: ${JSON.stringify(r.result.content)}`)
    return inputRequired({ inputRequests: { sample: inputRequired.createMessage({ messages: [{ role: 'user', content: { type: 'text', text: prompt } }], maxTokens: 100 }) } })
  })
  const elicitTool = (name: string, message: (args: Record<string, unknown>) => string, requestedSchema: ElicitSchema, label: string) => {
    server.registerTool(name, { description: `elicitation (${name})`, inputSchema: z.object({ message: z.string().optional() }) }, (args, ctx) => {
      const r = inputResponse(ctx.mcpReq.inputResponses, 'input')
      if (r.kind === 'elicit') return text(`${label}: action=${r.action}, content=${JSON.stringify(r.content ?? {})}`)
      return inputRequired({ inputRequests: { input: inputRequired.elicit({ mode: 'form', message: message(args), requestedSchema }) } })
    })
  }
  elicitTool('test_elicitation', (a) => typeof a.message === 'string' ? a.message : 'Please respond', { type: 'object', properties: { response: { type: 'string', description: "User's response" } }, required: ['response'] }, 'User response')
  elicitTool('test_elicitation_sep1034_defaults', () => 'Please review and update the form fields with defaults', {
    type: 'object',
    properties: {
      name: { type: 'string', description: 'User name', default: 'John Doe' },
      age: { type: 'integer', description: 'User age', default: 30 },
      score: { type: 'number', description: 'User score', default: 95.5 },
      status: { type: 'string', description: 'User status', enum: ['active', 'inactive', 'pending'], default: 'active' },
      verified: { type: 'boolean', description: 'Verification status', default: true },
    },
    required: [],
  }, 'Elicitation completed')
  elicitTool('test_elicitation_sep1330_enums', () => 'Please select options from the enum fields', {
    type: 'object',
    properties: {
      untitledSingle: { type: 'string', description: 'Select one option', enum: ['option1', 'option2', 'option3'] },
      titledSingle: { type: 'string', description: 'Select one option with titles', oneOf: [{ const: 'value1', title: 'First Option' }, { const: 'value2', title: 'Second Option' }, { const: 'value3', title: 'Third Option' }] },
      legacyEnum: { type: 'string', description: 'Select one option (legacy)', enum: ['opt1', 'opt2', 'opt3'], enumNames: ['Option One', 'Option Two', 'Option Three'] },
      untitledMulti: { type: 'array', description: 'Select multiple options', minItems: 1, maxItems: 3, items: { type: 'string', enum: ['option1', 'option2', 'option3'] } },
      titledMulti: { type: 'array', description: 'Select multiple options with titles', minItems: 1, maxItems: 3, items: { anyOf: [{ const: 'value1', title: 'First Choice' }, { const: 'value2', title: 'Second Choice' }, { const: 'value3', title: 'Third Choice' }] } },
    },
    required: [],
  }, 'Elicitation completed')

  // 2026-07-28 multi-round-trip scenarios.
  server.registerTool('test_input_required_result_elicitation', { description: 'MRTR elicitation', inputSchema: empty }, (_a, ctx) => {
    const got = acceptedContent(ctx.mcpReq.inputResponses, 'user_name')
    if (got !== undefined) return text(`Hello, ${String(got.name)}!`)
    return inputRequired({ inputRequests: { user_name: inputRequired.elicit({ message: 'What is your name?', requestedSchema: nameSchema }) } })
  })
  server.registerTool('test_input_required_result_sampling', { description: 'MRTR sampling', inputSchema: empty }, (_a, ctx) => {
    const r = inputResponse(ctx.mcpReq.inputResponses, 'sample_request')
    if (r.kind === 'sampling') return text(`Sampling result: ${JSON.stringify(r.result.content)}`)
    return inputRequired({ inputRequests: { sample_request: inputRequired.createMessage({ messages: [{ role: 'user', content: { type: 'text', text: 'What is the capital of France?' } }], maxTokens: 100 }) } })
  })
  server.registerTool('test_input_required_result_list_roots', { description: 'MRTR roots', inputSchema: empty }, (_a, ctx) => {
    const r = inputResponse(ctx.mcpReq.inputResponses, 'roots_request')
    if (r.kind === 'roots') return text(`Found ${r.roots.length} root(s)`)
    return inputRequired({ inputRequests: { roots_request: inputRequired.listRoots() } })
  })
  // The request state travels in the request: any replica can answer the retry.
  server.registerTool('test_input_required_result_request_state', { description: 'MRTR request state', inputSchema: empty }, (_a, ctx) => {
    const state = ctx.mcpReq.requestState<string>()
    const ok = acceptedContent(ctx.mcpReq.inputResponses, 'confirm')
    if (typeof state === 'string' && ok !== undefined) {
      try { if ((JSON.parse(state) as { kind?: string }).kind === 'request-state') return text('state-ok: requestState validated') } catch { /* tampered: ask again */ }
    }
    return inputRequired({
      inputRequests: { confirm: inputRequired.elicit({ message: 'Please confirm', requestedSchema: { type: 'object', properties: { ok: { type: 'boolean' } }, required: ['ok'] } }) },
      requestState: JSON.stringify({ kind: 'request-state', nonce: randomUUID() }),
    })
  })
  server.registerTool('test_input_required_result_multiple_inputs', { description: 'MRTR several inputs', inputSchema: empty }, (_a, ctx) => {
    const name = acceptedContent(ctx.mcpReq.inputResponses, 'user_name')
    const greeting = inputResponse(ctx.mcpReq.inputResponses, 'greeting')
    const roots = inputResponse(ctx.mcpReq.inputResponses, 'client_roots')
    if (name !== undefined && greeting.kind === 'sampling' && roots.kind === 'roots') {
      return text(`Name: ${String(name.name)}; Greeting: ${JSON.stringify(greeting.result.content)}; Roots: ${roots.roots.length}`)
    }
    return inputRequired({
      inputRequests: {
        user_name: inputRequired.elicit({ message: 'What is your name?', requestedSchema: nameSchema }),
        greeting: inputRequired.createMessage({ messages: [{ role: 'user', content: { type: 'text', text: 'Generate a greeting' } }], maxTokens: 50 }),
        client_roots: inputRequired.listRoots(),
      },
      requestState: JSON.stringify({ kind: 'multiple-inputs' }),
    })
  })
  server.registerTool('test_input_required_result_multi_round', { description: 'MRTR two rounds', inputSchema: empty }, (_a, ctx) => {
    const raw = ctx.mcpReq.requestState<string>()
    let state: { round?: number, name?: string } = {}
    try { if (typeof raw === 'string') state = JSON.parse(raw) as typeof state } catch { state = {} }
    const step1 = acceptedContent(ctx.mcpReq.inputResponses, 'step1')
    const step2 = acceptedContent(ctx.mcpReq.inputResponses, 'step2')
    if (state.round === 2 && step2 !== undefined) return text(`Multi-round complete for ${state.name ?? 'friend'} who likes ${String(step2.color)}`)
    if (state.round === 1 && step1 !== undefined) {
      return inputRequired({
        inputRequests: { step2: inputRequired.elicit({ message: 'Step 2: What is your favorite color?', requestedSchema: { type: 'object', properties: { color: { type: 'string' } }, required: ['color'] } }) },
        requestState: JSON.stringify({ round: 2, name: String(step1.name) }),
      })
    }
    return inputRequired({
      inputRequests: { step1: inputRequired.elicit({ message: 'Step 1: What is your name?', requestedSchema: nameSchema }) },
      requestState: JSON.stringify({ round: 1 }),
    })
  })
  server.registerTool('json_schema_2020_12_tool', {
    description: 'JSON Schema 2020-12 (SEP-1613)',
    inputSchema: z.object({ name: z.string().optional(), address: z.object({ street: z.string().optional(), city: z.string().optional() }).optional() }),
  }, (args) => text(`JSON Schema 2020-12 tool called with: ${JSON.stringify(args)}`))

  server.registerResource('static-text', 'test://static-text', { title: 'Static Text Resource', mimeType: 'text/plain' },
    () => ({ contents: [{ uri: 'test://static-text', mimeType: 'text/plain', text: 'This is the content of the static text resource.' }] }))
  server.registerResource('static-binary', 'test://static-binary', { title: 'Static Binary Resource', mimeType: 'image/png' },
    () => ({ contents: [{ uri: 'test://static-binary', mimeType: 'image/png', blob: IMAGE }] }))
  server.registerResource('template', new ResourceTemplate('test://template/{id}/data', { list: undefined }), { title: 'Resource Template', mimeType: 'application/json' },
    (uri, variables) => ({ contents: [{ uri: uri.toString(), mimeType: 'application/json', text: JSON.stringify({ id: variables.id, templateTest: true, data: `Data for ID: ${String(variables.id)}` }) }] }))
  server.registerResource('watched-resource', 'test://watched-resource', { title: 'Watched Resource', mimeType: 'text/plain' },
    () => ({ contents: [{ uri: 'test://watched-resource', mimeType: 'text/plain', text: 'Watched resource content' }] }))

  server.registerPrompt('test_simple_prompt', { description: 'simple prompt' },
    () => ({ messages: [{ role: 'user', content: { type: 'text', text: 'This is a simple prompt for testing.' } }] }))
  server.registerPrompt('test_prompt_with_arguments', { description: 'prompt with arguments', argsSchema: z.object({ arg1: z.string(), arg2: z.string() }) },
    ({ arg1, arg2 }) => ({ messages: [{ role: 'user', content: { type: 'text', text: `Prompt with arguments: arg1='${arg1}', arg2='${arg2}'` } }] }))
  server.registerPrompt('test_prompt_with_embedded_resource', { description: 'prompt with a resource', argsSchema: z.object({ resourceUri: z.string() }) },
    ({ resourceUri }) => ({
      messages: [
        { role: 'user', content: { type: 'resource', resource: { uri: resourceUri, mimeType: 'text/plain', text: 'Embedded resource content for testing.' } } },
        { role: 'user', content: { type: 'text', text: 'Please process the embedded resource above.' } },
      ],
    }))
  server.registerPrompt('test_prompt_with_image', { description: 'prompt with an image' }, () => ({
    messages: [
      { role: 'user', content: { type: 'image', data: IMAGE, mimeType: 'image/png' } },
      { role: 'user', content: { type: 'text', text: 'Please analyze the image above.' } },
    ],
  }))
  server.registerPrompt('test_input_required_result_prompt', { description: 'MRTR prompt' }, (ctx) => {
    const got = acceptedContent(ctx.mcpReq.inputResponses, 'user_context')
    if (got !== undefined) return { messages: [{ role: 'user' as const, content: { type: 'text' as const, text: `Prompt with context: ${String(got.context)}` } }] }
    return inputRequired({ inputRequests: { user_context: inputRequired.elicit({ message: 'What context should the prompt use?', requestedSchema: { type: 'object', properties: { context: { type: 'string' } }, required: ['context'] } }) } })
  })

  server.server.setRequestHandler('resources/subscribe', () => ({}))
  server.server.setRequestHandler('resources/unsubscribe', () => ({}))
  server.server.setRequestHandler('completion/complete', () => ({ completion: { values: [], total: 0, hasMore: false } }))
  return server
}

/** Bounded in-memory event store: the last `max` events of every stream. */
export function memoryEventStore (max = 1000): EventStore {
  const events = new Map<string, { stream: string, message: unknown }>()
  return {
    storeEvent (stream, message) {
      const id = `${stream}_${randomUUID()}`
      events.set(id, { stream, message })
      if (events.size > max) events.delete(events.keys().next().value!)
      return Promise.resolve(id)
    },
    getStreamIdForEventId (id) { return Promise.resolve(events.get(id)?.stream) },
    async replayEventsAfter (last, { send }) {
      const stream = events.get(last)?.stream
      if (stream === undefined) throw new Error(`unknown event id ${last}`)
      let after = false
      for (const [id, e] of events) {
        if (id === last) { after = true; continue }
        if (after && e.stream === stream) await send(id, e.message as never)
      }
      return stream
    },
  }
}

/** Options of {@link serveReference}. */
export interface ReferenceServeOptions {
  /** @default 0 (any free port) */
  port?: number
  /** Serve 2025-era requests with the SDK's stateless fallback instead of sessions. @default false */
  statelessLegacy?: boolean
  /** At most this many 2025 sessions at once (503 beyond). @default 256 */
  maxSessions?: number
}

/** Serves the reference server over Streamable HTTP on 127.0.0.1, both eras on `/mcp`. */
export async function serveReference (options: ReferenceServeOptions = {}): Promise<{ url: URL, close: () => Promise<void> }> {
  const statelessLegacy = options.statelessLegacy ?? false
  const maxSessions = options.maxSessions ?? 256
  const modern = createMcpHandler(createReferenceServer, { legacy: statelessLegacy ? 'stateless' : 'reject' })
  const sessions = new Map<string, WebStandardStreamableHTTPServerTransport>()
  const eventStore = memoryEventStore()

  const legacy = async (request: Request): Promise<Response> => {
    const id = request.headers.get('mcp-session-id')
    if (id !== null) {
      const t = sessions.get(id)
      return t === undefined ? Response.json({ jsonrpc: '2.0', error: { code: -32001, message: 'Session not found' }, id: null }, { status: 404 }) : await t.handleRequest(request)
    }
    if (sessions.size >= maxSessions) return Response.json({ jsonrpc: '2.0', error: { code: -32000, message: `Too many sessions (${maxSessions})` }, id: null }, { status: 503 })
    const transport: WebStandardStreamableHTTPServerTransport = new WebStandardStreamableHTTPServerTransport({
      sessionIdGenerator: () => randomUUID(),
      eventStore,
      retryInterval: 1000,
      onsessioninitialized: (sid) => { sessions.set(sid, transport) },
      onsessionclosed: (sid) => { sessions.delete(sid) },
    })
    await createReferenceServer({ era: 'legacy' }).connect(transport)
    return await transport.handleRequest(request)
  }

  const hosts = localhostAllowedHostnames()
  const origins = localhostAllowedOrigins()
  const node = toNodeHandler({
    fetch: async (request: Request) => {
      const rejected = hostHeaderValidationResponse(request, hosts) ?? originValidationResponse(request, origins)
      if (rejected !== undefined) return rejected
      if (!statelessLegacy && await isLegacyRequest(request)) return await legacy(request)
      return await modern.fetch(request)
    },
  })
  const http: HttpServer = createServer((req, res) => { void node(req, res) })
  await new Promise<void>((resolve) => { http.listen(options.port ?? 0, '127.0.0.1', resolve) })
  const { port } = http.address() as AddressInfo
  return {
    url: new URL(`http://127.0.0.1:${port}/mcp`),
    async close () {
      await modern.close()
      await Promise.allSettled([...sessions.values()].map(async (t) => { await t.close() }))
      http.closeAllConnections()
      await new Promise<void>((resolve) => { http.close(() => { resolve() }) })
    },
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const served = await serveReference({ port: Number(process.env.PORT ?? 3950), statelessLegacy: process.env.LEGACY === 'stateless' })
  process.stderr.write(`reference server on ${served.url.href}\n`)
  const stop = (): void => { void served.close().then(() => process.exit(0)) }
  process.once('SIGTERM', stop)
  process.once('SIGINT', stop)
}
