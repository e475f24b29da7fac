#!/usr/bin/env node
// An example MCP server (stdio): a notebook. `add_note` is not idempotent (a mesh must
// never run it twice), `list_notes` is read-only; the resource notes://all changes with
// every note and announces it to subscribers.
//
//   node examples/notes-server/server.mjs
//
// NOTES_FILE (env): keep the notes in this JSON file across restarts (default: memory).
import { readFileSync, realpathSync, writeFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js'
import { StdioServerTransport } from '@modelcontextprotocol/sdk/server/stdio.js'
import { SubscribeRequestSchema, UnsubscribeRequestSchema } from '@modelcontextprotocol/sdk/types.js'
import { z } from 'zod'

export function createNotesServer ({ file = process.env.NOTES_FILE } = {}) {
  let notes = []
  if (file) {
    try {
      notes = JSON.parse(readFileSync(file, 'utf8'))
    } catch {
      notes = []
    }
  }
  const save = () => {
    if (file) writeFileSync(file, JSON.stringify(notes))
  }
  const server = new McpServer(
    { name: 'notes', version: '1.0.0' },
    { capabilities: { resources: { subscribe: true, listChanged: true } } },
  )
  const subscribed = new Set()
  server.server.setRequestHandler(SubscribeRequestSchema, async (req) => {
    subscribed.add(req.params.uri)
    return {}
  })
  server.server.setRequestHandler(UnsubscribeRequestSchema, async (req) => {
    subscribed.delete(req.params.uri)
    return {}
  })

  server.registerTool('add_note', {
    description: 'Adds a note and returns its id. Not idempotent: each call adds one note.',
    inputSchema: { text: z.string().min(1).max(10_000) },
    outputSchema: { id: z.number(), count: z.number() },
    annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: false },
  }, async ({ text }) => {
    const id = notes.length + 1
    notes.push({ id, text, at: new Date().toISOString() })
    save()
    if (subscribed.has('notes://all')) await server.server.sendResourceUpdated({ uri: 'notes://all' })
    return { content: [{ type: 'text', text: `note ${id} added` }], structuredContent: { id, count: notes.length } }
  })

  server.registerTool('list_notes', {
    description: 'Lists every note.',
    outputSchema: { notes: z.array(z.object({ id: z.number(), text: z.string(), at: z.string() })) },
    annotations: { readOnlyHint: true, idempotentHint: true },
  }, async () => ({
    content: [{ type: 'text', text: notes.map((n) => `${n.id}. ${n.text}`).join('\n') || '(no notes)' }],
    structuredContent: { notes },
  }))

  server.registerResource('all', 'notes://all', { title: 'All notes', mimeType: 'application/json' }, async (uri) => ({
    contents: [{ uri: uri.href, mimeType: 'application/json', text: JSON.stringify(notes) }],
  }))

  return server
}

if (process.argv[1] !== undefined && realpathSync(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const server = createNotesServer()
  await server.connect(new StdioServerTransport())
}
