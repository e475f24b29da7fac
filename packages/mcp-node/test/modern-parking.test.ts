// The 2026-07-28 leg parks an interactive call (input_required) for up to 10 minutes: one
// principal must not hold every parking place (issue 17, per principal as well as per session).
// The leg is driven with real fetch Requests; behind it, a real SDK server whose tool elicits.
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js'
import { ElicitResultSchema } from '@modelcontextprotocol/sdk/types.js'
import { afterAll, describe, expect, it } from 'vitest'
import { createModernFrontDoor } from '../src/modern.js'
import type { FrontSession } from '../src/session.js'
import { noopLogger } from '../src/logger.js'

const MODERN = '2026-07-28'

/** A session whose server has one tool, `ask`, that elicits a name. */
function session (): FrontSession {
  const server = new McpServer({ name: 'asker', version: '1.0.0' })
  server.registerTool('ask', {}, async (extra) => {
    const r = await extra.sendRequest({ method: 'elicitation/create', params: { mode: 'form', message: 'name?', requestedSchema: { type: 'object', properties: { name: { type: 'string' } } } } }, ElicitResultSchema)
    return { content: [{ type: 'text', text: JSON.stringify(r.content ?? {}) }] }
  })
  // The leg uses a session's SDK server and close(); the router behind a real one is not what this tests.
  return { server: server.server, close: async () => { await server.close() } } as unknown as FrontSession
}

describe('parked interactive calls per principal', () => {
  const door = createModernFrontDoor({ openSession: () => session(), log: noopLogger }, { maxWaitingCallsPerPrincipal: 3 })
  afterAll(async () => { await door.close() })
  const leg = door.leg({ kind: 'mesh' })

  async function ask (principal: string): Promise<{ result?: { resultType?: string }, error?: { message: string } }> {
    const body = {
      jsonrpc: '2.0', id: 1, method: 'tools/call',
      params: { name: 'ask', arguments: {}, _meta: { 'io.modelcontextprotocol/protocolVersion': MODERN, 'io.modelcontextprotocol/clientInfo': { name: 'raw', version: '1' }, 'io.modelcontextprotocol/clientCapabilities': { elicitation: {} } } },
    }
    const request = new Request('http://127.0.0.1/mcp', {
      method: 'POST', body: JSON.stringify(body),
      headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream', 'mcp-protocol-version': MODERN, 'mcp-method': 'tools/call', 'mcp-name': 'ask' },
    })
    const res = await leg(request, { parsedBody: body, authInfo: { token: 't', clientId: principal, scopes: [] } })
    const raw = await res.text()
    const json = res.headers.get('content-type')?.includes('text/event-stream') === true ? raw.split('\n').filter((l) => l.startsWith('data:')).map((l) => l.slice(5)).at(-1)! : raw
    return JSON.parse(json) as { result?: { resultType?: string }, error?: { message: string } }
  }

  it('refuses a principal past maxWaitingCallsPerPrincipal, naming the limit; another principal still parks', async () => {
    for (let i = 0; i < 3; i++) expect((await ask('token:alice')).result?.resultType).toBe('input_required')
    const refused = await ask('token:alice')
    expect(refused.error?.message).toContain('maxWaitingCallsPerPrincipal 3 reached')
    expect(refused.error?.message).toContain('"token:alice"')
    expect((await ask('token:bob')).result?.resultType).toBe('input_required')
  })
})
