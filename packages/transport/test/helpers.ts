import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js'
import { SubscribeRequestSchema } from '@modelcontextprotocol/sdk/types.js'
import { z } from 'zod'
import type { McpSessionInfo } from '../src/index.js'

/** A server with one tool of each kind the tests call; `sessions` records what the factory saw. */
export function makeServer (
  session: McpSessionInfo | undefined,
  hooks: { onStarted?: () => void, onCancelled?: () => void } = {},
): McpServer {
  const server = new McpServer({ name: 'test-server', version: '1.2.3' }, {
    capabilities: { logging: {}, resources: { subscribe: true, listChanged: true }, tools: { listChanged: true } },
  })
  server.registerTool('echo', { description: 'echoes text', inputSchema: { text: z.string() } },
    ({ text }) => ({ content: [{ type: 'text', text }] }))
  server.registerTool('add', { inputSchema: { a: z.number(), b: z.number() }, outputSchema: { sum: z.number() } },
    ({ a, b }) => ({ content: [{ type: 'text', text: String(a + b) }], structuredContent: { sum: a + b } }))
  server.registerTool('whoami', {}, (extra) => ({
    content: [{ type: 'text', text: JSON.stringify({ clientId: extra.authInfo?.clientId, sessionId: extra.sessionId, factoryPeer: session?.remotePeer.toString() }) }],
  }))
  server.registerTool('image', {}, () => ({ content: [{ type: 'image', data: Buffer.from([1, 2, 3, 255]).toString('base64'), mimeType: 'image/png' }] }))
  server.registerTool('blob', { inputSchema: { bytes: z.number() } }, ({ bytes }) => ({ content: [{ type: 'text', text: 'x'.repeat(bytes) }] }))
  server.registerTool('progress', { inputSchema: { steps: z.number() } }, async ({ steps }, extra) => {
    const token = extra._meta?.progressToken
    for (let i = 1; i <= steps; i++) {
      if (token !== undefined) await extra.sendNotification({ method: 'notifications/progress', params: { progressToken: token, progress: i, total: steps } })
    }
    return { content: [{ type: 'text', text: 'done' }] }
  })
  server.registerTool('hang', {}, async (extra) => new Promise((resolve) => {
    hooks.onStarted?.()
    extra.signal.addEventListener('abort', () => {
      hooks.onCancelled?.()
      resolve({ content: [{ type: 'text', text: 'cancelled' }] })
    })
  }))
  server.registerTool('wait', { inputSchema: { ms: z.number() } }, async ({ ms }) => {
    await new Promise((resolve) => setTimeout(resolve, ms))
    return { content: [{ type: 'text', text: 'waited' }] }
  })
  server.registerTool('log', { inputSchema: { text: z.string() } }, async ({ text }) => {
    await server.sendLoggingMessage({ level: 'info', logger: 'test', data: text })
    return { content: [{ type: 'text', text: 'logged' }] }
  })
  server.registerTool('sample', { inputSchema: { prompt: z.string() } }, async ({ prompt }) => {
    const res = await server.server.createMessage({ messages: [{ role: 'user', content: { type: 'text', text: prompt } }], maxTokens: 10 })
    return { content: [{ type: 'text', text: res.content.type === 'text' ? res.content.text : '?' }] }
  })
  server.registerTool('elicit', {}, async () => {
    const res = await server.server.elicitInput({ mode: 'form', message: 'name?', requestedSchema: { type: 'object', properties: { name: { type: 'string' } } } })
    return { content: [{ type: 'text', text: `${res.action}:${String(res.content?.name)}` }] }
  })
  server.registerResource('counter', 'test://counter', { mimeType: 'text/plain' }, (uri) => ({ contents: [{ uri: uri.href, text: 'n' }] }))
  server.server.setRequestHandler(SubscribeRequestSchema, (req) => {
    // Acknowledge, then tell the subscriber the resource changed.
    setTimeout(() => { void server.server.sendResourceUpdated({ uri: req.params.uri }) }, 0)
    return {}
  })
  server.registerTool('add-tool', { inputSchema: { name: z.string() } }, ({ name }) => {
    server.registerTool(name, {}, () => ({ content: [{ type: 'text', text: name }] }))
    return { content: [{ type: 'text', text: 'added' }] }
  })
  return server
}
