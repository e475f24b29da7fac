#!/usr/bin/env node
// An example MCP server (stdio) that exercises what a mesh must carry across a hop:
// structured results, progress, cancellation, logging, elicitation and sampling.
//
//   node examples/calc-server/server.mjs
//
// REPLICA_ID (env) names this copy in the results of `whoami`, so that a client can see
// which replica served a call. Nothing is written to stdout but the protocol.
import { realpathSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js'
import { StdioServerTransport } from '@modelcontextprotocol/sdk/server/stdio.js'
import { CreateMessageResultSchema, ElicitResultSchema } from '@modelcontextprotocol/sdk/types.js'
import { z } from 'zod'

export function createCalcServer ({ replicaId = process.env.REPLICA_ID ?? `pid-${process.pid}` } = {}) {
  const server = new McpServer(
    { name: 'calc', version: '1.0.0' },
    { capabilities: { logging: {} }, instructions: 'Arithmetic and demonstrations of progress, logging, elicitation and sampling.' },
  )
  const pure = { readOnlyHint: true, idempotentHint: true, openWorldHint: false }

  server.registerTool('add', {
    title: 'Add',
    description: 'Adds two numbers.',
    inputSchema: { a: z.number(), b: z.number() },
    outputSchema: { sum: z.number() },
    annotations: pure,
  }, async ({ a, b }) => ({
    content: [{ type: 'text', text: String(a + b) }],
    structuredContent: { sum: a + b },
  }))

  server.registerTool('multiply', {
    title: 'Multiply',
    description: 'Multiplies two numbers.',
    inputSchema: { a: z.number(), b: z.number() },
    outputSchema: { product: z.number() },
    annotations: pure,
  }, async ({ a, b }) => ({
    content: [{ type: 'text', text: String(a * b) }],
    structuredContent: { product: a * b },
  }))

  server.registerTool('whoami', {
    description: 'Says which replica answered (its REPLICA_ID and process id).',
    outputSchema: { replica: z.string(), pid: z.number() },
    annotations: pure,
  }, async () => ({
    content: [{ type: 'text', text: replicaId }],
    structuredContent: { replica: replicaId, pid: process.pid },
  }))

  server.registerTool('slow_count', {
    description: 'Counts to n, one step every delayMs, reporting progress; stops when cancelled.',
    inputSchema: { n: z.number().int().min(1).max(10_000), delayMs: z.number().int().min(0).max(60_000).default(100) },
    annotations: { readOnlyHint: true, idempotentHint: true },
  }, async ({ n, delayMs }, extra) => {
    const token = extra._meta?.progressToken
    for (let i = 1; i <= n; i++) {
      await sleep(delayMs, extra.signal)
      if (token !== undefined) {
        await extra.sendNotification({ method: 'notifications/progress', params: { progressToken: token, progress: i, total: n, message: `step ${i} of ${n}` } })
      }
    }
    return { content: [{ type: 'text', text: `counted to ${n}` }] }
  })

  server.registerTool('log_demo', {
    description: 'Sends a log message to the client at the given level, then returns.',
    inputSchema: { message: z.string(), level: z.enum(['debug', 'info', 'notice', 'warning', 'error']).default('info') },
    annotations: { readOnlyHint: true, idempotentHint: true },
  }, async ({ message, level }, extra) => {
    await extra.sendNotification({ method: 'notifications/message', params: { level, logger: 'calc', data: message } })
    return { content: [{ type: 'text', text: `logged at ${level}` }] }
  })

  server.registerTool('ask_user', {
    description: 'Asks the user a question through elicitation and returns the answer.',
    inputSchema: { question: z.string() },
  }, async ({ question }, extra) => {
    const result = await extra.sendRequest({
      method: 'elicitation/create',
      params: {
        mode: 'form',
        message: question,
        requestedSchema: { type: 'object', properties: { answer: { type: 'string', description: 'Your answer' } }, required: ['answer'] },
      },
    }, ElicitResultSchema)
    const text = result.action === 'accept' ? `user answered: ${String(result.content?.answer)}` : `user chose ${result.action}`
    return { content: [{ type: 'text', text }] }
  })

  server.registerTool('summarize', {
    description: 'Asks the client\'s model (sampling) to summarise a text.',
    inputSchema: { text: z.string().max(100_000) },
  }, async ({ text }, extra) => {
    const result = await extra.sendRequest({
      method: 'sampling/createMessage',
      params: { messages: [{ role: 'user', content: { type: 'text', text: `Summarise in one sentence:\n\n${text}` } }], maxTokens: 200 },
    }, CreateMessageResultSchema)
    const content = result.content
    return { content: [{ type: 'text', text: content.type === 'text' ? content.text : `(${content.type} from ${result.model})` }] }
  })

  server.registerResource('about', 'calc://about', { title: 'About calc', mimeType: 'text/plain' }, async (uri) => ({
    contents: [{ uri: uri.href, text: `calc 1.0.0, replica ${replicaId}` }],
  }))

  server.registerPrompt('explain_calculation', {
    description: 'Asks the model to explain a calculation step by step.',
    argsSchema: { expression: z.string() },
  }, ({ expression }) => ({
    messages: [{ role: 'user', content: { type: 'text', text: `Explain step by step how to compute ${expression}.` } }],
  }))

  return server
}

function sleep (ms, signal) {
  return new Promise((resolve, reject) => {
    if (signal.aborted) return reject(signal.reason)
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', onAbort)
      resolve()
    }, ms)
    const onAbort = () => {
      clearTimeout(timer)
      reject(signal.reason)
    }
    signal.addEventListener('abort', onAbort, { once: true })
  })
}

if (process.argv[1] !== undefined && realpathSync(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const server = createCalcServer()
  await server.connect(new StdioServerTransport())
}
