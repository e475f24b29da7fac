// The SDK spike of decision 0070: SDK v2 clients and SDK 1.x servers together, both ways.
//   node scripts/sdk-interop.ts
// Starts @modelcontextprotocol/server-everything (SDK 1.x, pinned, through npx) and the v2
// reference server (examples/reference-server) on 127.0.0.1, prints one line per pairing, exits 1
// if any pairing fails.
import { Client as V2Client, StreamableHTTPClientTransport as V2Http } from '@modelcontextprotocol/client'
import { Client as V1Client } from '@modelcontextprotocol/sdk/client/index.js'
import { StreamableHTTPClientTransport as V1Http } from '@modelcontextprotocol/sdk/client/streamableHttp.js'
import { InMemoryTransport as V1Memory } from '@modelcontextprotocol/sdk/inMemory.js'
import { McpServer as V1Server } from '@modelcontextprotocol/sdk/server/mcp.js'
import { ElicitRequestSchema } from '@modelcontextprotocol/sdk/types.js'
import { z } from 'zod'
import { serveReference } from '../examples/reference-server/server.ts'
import { EVERYTHING, startEverything } from './mcp-servers.ts'

const text = (r: object): string => JSON.stringify((r as { content?: unknown }).content).slice(0, 80)
const results: Array<[string, string]> = []
let failed = 0
async function pairing (label: string, run: () => Promise<string>): Promise<void> {
  try {
    results.push([label, await run()])
  } catch (err) {
    failed++
    results.push([label, `FAILED: ${(err as Error).message}`])
  }
}

const everything = await startEverything(Number(process.env.EVERYTHING_PORT ?? 3911))
const reference = await serveReference()
try {
  await pairing(`v2 Client (auto) → server-everything ${EVERYTHING} (SDK 1.x, HTTP)`, async () => {
    const c = new V2Client({ name: 'interop', version: '1.0.0' }, { versionNegotiation: { mode: 'auto' } })
    await c.connect(new V2Http(everything.url))
    const tools = await c.listTools()
    const r = await c.callTool({ name: 'echo', arguments: { message: 'hi' } })
    const v = c.getNegotiatedProtocolVersion()
    await c.close()
    return `protocol ${v}, ${tools.tools.length} tools, echo → ${text(r)}`
  })
  await pairing('v2 Client → SDK 1.x McpServer in process (SDK 1.x InMemoryTransport)', async () => {
    const server = new V1Server({ name: 'embedder', version: '1.0.0' })
    server.registerTool('add', { inputSchema: { a: z.number(), b: z.number() } }, ({ a, b }) => ({ content: [{ type: 'text', text: String(a + b) }] }))
    const [clientSide, serverSide] = V1Memory.createLinkedPair()
    await server.connect(serverSide)
    const c = new V2Client({ name: 'interop', version: '1.0.0' })
    await c.connect(clientSide)
    const r = await c.callTool({ name: 'add', arguments: { a: 2, b: 3 } })
    const v = c.getNegotiatedProtocolVersion()
    await c.close()
    return `protocol ${v}, add → ${text(r)}`
  })
  await pairing('v2 Client (pinned 2026-07-28) → v2 reference server, input_required fulfilled', async () => {
    const c = new V2Client({ name: 'interop', version: '1.0.0' }, { versionNegotiation: { mode: { pin: '2026-07-28' } }, capabilities: { elicitation: {} } })
    c.setRequestHandler('elicitation/create', () => ({ action: 'accept', content: { name: 'Ada' } }))
    await c.connect(new V2Http(reference.url))
    const r = await c.callTool({ name: 'test_input_required_result_elicitation', arguments: {} })
    const v = c.getNegotiatedProtocolVersion()
    await c.close()
    return `protocol ${v}, ${text(r)}`
  })
  await pairing('SDK 1.x Client (2025 session) → v2 reference server, MRTR tool via elicitation', async () => {
    const c = new V1Client({ name: 'interop', version: '1.0.0' }, { capabilities: { elicitation: {} } })
    c.setRequestHandler(ElicitRequestSchema, () => ({ action: 'accept', content: { name: 'Bob' } }))
    await c.connect(new V1Http(reference.url))
    const r = await c.callTool({ name: 'test_input_required_result_elicitation', arguments: {} })
    await c.close()
    return `server ${c.getServerVersion()?.name ?? '?'}, ${text(r)}`
  })
} finally {
  await reference.close()
  everything.stop()
}
for (const [label, result] of results) console.log(`${label}\n    ${result}`)
console.log(`${results.length - failed} of ${results.length} pairings work`)
process.exitCode = failed === 0 ? 0 : 1
