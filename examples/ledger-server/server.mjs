#!/usr/bin/env node
// An example MCP server (stdio) for testing exactly-once: every call appends a line (the
// scheduler's idempotency key from `_meta`, the epoch and this process's id) to a shared
// ledger file. `append` is annotated idempotent but does not deduplicate (a re-run appends
// again); `append_dedup` honours the idempotency key (a key already in the ledger is not
// appended twice); `record` is not idempotent (annotated so: a mesh must never run it twice)
// and appends the key its caller passes in its arguments, so that a client outside the
// scheduler (the chaos script) can count executions exactly. Several processes may share one
// ledger file (appends are O_APPEND lines).
//
//   LEDGER_FILE=/tmp/ledger.txt node examples/ledger-server/server.mjs
import { appendFileSync, existsSync, readFileSync, realpathSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js'
import { StdioServerTransport } from '@modelcontextprotocol/sdk/server/stdio.js'
import { z } from 'zod'

const KEY = 'p2p-mcp/idempotency-key'
const EPOCH = 'p2p-mcp/epoch'

export function createLedgerServer ({ file = process.env.LEDGER_FILE, delayMs = Number(process.env.LEDGER_DELAY_MS ?? 0) } = {}) {
  if (!file) throw new Error('set LEDGER_FILE to the ledger file to append to')
  const server = new McpServer({ name: 'ledger', version: '1.0.0' })
  const line = (key, epoch) => `${key} ${epoch} ${process.env.REPLICA_ID ?? process.pid}\n`
  const keyOf = (extra) => {
    const key = extra._meta?.[KEY]
    if (typeof key !== 'string') throw new Error(`no ${KEY} in _meta: call through the scheduler`)
    return { key, epoch: extra._meta?.[EPOCH] ?? 0 }
  }
  const wait = () => new Promise((resolve) => setTimeout(resolve, delayMs))

  server.registerTool('append', {
    description: 'Appends the call\'s idempotency key to the ledger. Idempotent by annotation, but appends on every call.',
    inputSchema: { n: z.number().optional() },
    annotations: { readOnlyHint: false, idempotentHint: true },
  }, async (_args, extra) => {
    const { key, epoch } = keyOf(extra)
    await wait()
    appendFileSync(file, line(key, epoch))
    return { content: [{ type: 'text', text: key }], structuredContent: { key } }
  })

  server.registerTool('append_dedup', {
    description: 'Appends the call\'s idempotency key to the ledger unless it is there already (honours the idempotency key).',
    inputSchema: { n: z.number().optional() },
    annotations: { readOnlyHint: false, idempotentHint: true },
  }, async (_args, extra) => {
    const { key, epoch } = keyOf(extra)
    await wait()
    const seen = existsSync(file) && readFileSync(file, 'utf8').split('\n').some((l) => l.startsWith(`${key} `))
    if (!seen) appendFileSync(file, line(key, epoch))
    return { content: [{ type: 'text', text: key }], structuredContent: { key, duplicate: seen } }
  })

  server.registerTool('record', {
    description: 'Appends the given key to the ledger on every call and says which replica ran it. Not idempotent: must never run twice for one call.',
    inputSchema: { key: z.string().min(1).max(200) },
    outputSchema: { key: z.string(), replica: z.string() },
    annotations: { readOnlyHint: false, idempotentHint: false, destructiveHint: false },
  }, async ({ key }) => {
    await wait()
    appendFileSync(file, line(key, 0))
    const replica = process.env.REPLICA_ID ?? String(process.pid)
    return { content: [{ type: 'text', text: replica }], structuredContent: { key, replica } }
  })

  return server
}

if (process.argv[1] !== undefined && realpathSync(process.argv[1]) === fileURLToPath(import.meta.url)) {
  await createLedgerServer().connect(new StdioServerTransport())
}
