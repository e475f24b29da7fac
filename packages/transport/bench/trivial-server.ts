// The benchmark's trivial MCP server, shared by every transport (and run as the stdio child).
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js'
import { StdioServerTransport } from '@modelcontextprotocol/sdk/server/stdio.js'
import { z } from 'zod'

export function trivialServer (): McpServer {
  const server = new McpServer({ name: 'bench', version: '1.0.0' })
  server.registerTool('noop', { inputSchema: { n: z.number() } }, ({ n }) => ({ content: [{ type: 'text', text: String(n) }] }))
  return server
}

if (process.argv[2] === '--stdio') {
  await trivialServer().connect(new StdioServerTransport())
}
