// Used by scripts/newcomer.sh: acts as the MCP clients of a new user, with the SDK's Client.
//   node newcomer-probe.mjs configs <npm-start-output> <out.json>   the two printed configurations
//   node newcomer-probe.mjs http <url>                              tools/list and a call over HTTP
//   node newcomer-probe.mjs stdio <config.json>                     the stdio configuration as pasted: its first tools/list
// Run from packages/mcp-node of the clone (where the SDK resolves), on Node >= 22.
import { readFileSync, writeFileSync } from 'node:fs'
import { Client } from '@modelcontextprotocol/sdk/client/index.js'
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js'
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js'

const [mode, arg, out] = process.argv.slice(2)
const MESH = ['mesh__status', 'calc__add', 'calc__whoami', 'notes__add_note', 'notes__list_notes']

function missing (names) {
  return MESH.filter((n) => !names.includes(n))
}

if (mode === 'configs') {
  const text = readFileSync(arg, 'utf8')
  const blocks = [...text.matchAll(/^\{\n[\s\S]*?^\}$/gm)].map((m) => JSON.parse(m[0]))
  if (blocks.length !== 2) throw new Error(`expected two configurations in the output of npm start, found ${blocks.length}`)
  writeFileSync(out, JSON.stringify({ http: blocks[0].mcpServers['p2p-mcp'], stdio: blocks[1].mcpServers['p2p-mcp'] }, null, 2))
  console.log(`http: ${blocks[0].mcpServers['p2p-mcp'].url}`)
  console.log(`stdio: ${blocks[1].mcpServers['p2p-mcp'].command} ${blocks[1].mcpServers['p2p-mcp'].args.join(' ')}`)
} else if (mode === 'http') {
  const client = new Client({ name: 'newcomer-http', version: '1.0.0' })
  await client.connect(new StreamableHTTPClientTransport(new URL(arg)))
  const names = (await client.listTools()).tools.map((t) => t.name)
  const sum = await client.callTool({ name: 'calc__add', arguments: { a: 2, b: 40 } })
  await client.close()
  console.log(`HTTP tools/list: ${names.length} tools; calc__add(2, 40) = ${JSON.stringify(sum.structuredContent)}`)
  if (missing(names).length > 0 || sum.structuredContent?.sum !== 42) process.exit(1)
} else if (mode === 'stdio') {
  const { command, args } = JSON.parse(readFileSync(arg, 'utf8')).stdio
  const client = new Client({ name: 'newcomer-stdio', version: '1.0.0' })
  const t0 = Date.now()
  await client.connect(new StdioClientTransport({ command, args, stderr: 'inherit' }))
  // A desktop client lists tools once, at start: this first answer is all it ever sees.
  const names = (await client.listTools()).tools.map((t) => t.name)
  console.log(`stdio: first tools/list after ${Date.now() - t0} ms: ${names.join(' ')}`)
  const notes = await client.callTool({ name: 'notes__list_notes', arguments: {} })
  await client.close()
  if (missing(names).length > 0) { console.log(`missing from the first tools/list: ${missing(names).join(' ')}`); process.exit(1) }
  if (notes.isError === true) process.exit(1)
} else {
  console.error(`unknown mode ${mode}`)
  process.exit(2)
}
