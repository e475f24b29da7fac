// OrderedTransport keeps the order a peer sent things in: progress, then the response, then
// the close. A peer that answers and closes at once (a graceful shutdown) must not have its
// last response dropped as "Connection closed".
import { Client } from '@modelcontextprotocol/sdk/client/index.js'
import { InMemoryTransport } from '@modelcontextprotocol/sdk/inMemory.js'
import { Server } from '@modelcontextprotocol/sdk/server/index.js'
import { CallToolRequestSchema, ListToolsRequestSchema } from '@modelcontextprotocol/sdk/types.js'
import { describe, expect, it } from 'vitest'
import { OrderedTransport } from '../src/ordered-transport.js'

describe('OrderedTransport', () => {
  it('delivers progress, the response and then the close, when all three arrive in one tick', async () => {
    const server = new Server({ name: 'closing', version: '1.0.0' }, { capabilities: { tools: {} } })
    server.setRequestHandler(ListToolsRequestSchema, () => ({ tools: [] }))
    server.setRequestHandler(CallToolRequestSchema, async (req, extra) => {
      const token = req.params._meta?.progressToken
      if (token !== undefined) await extra.sendNotification({ method: 'notifications/progress', params: { progressToken: token, progress: 1, total: 1 } })
      return { content: [{ type: 'text', text: 'done' }] }
    })
    const [clientSide, serverSide] = InMemoryTransport.createLinkedPair()
    let closeAfterResponse = false
    const send = serverSide.send.bind(serverSide)
    serverSide.send = async (message, options) => {
      await send(message, options)
      // The in-memory pair delivers synchronously: progress, response and close reach the client in one tick.
      if (closeAfterResponse && 'id' in message && 'result' in message) void serverSide.close()
    }
    await server.connect(serverSide)
    const transport = new OrderedTransport(clientSide)
    const client = new Client({ name: 'test', version: '1.0.0' })
    await client.connect(transport)
    const closed = new Promise<void>((resolve) => { client.onclose = resolve })
    closeAfterResponse = true
    const progress: number[] = []
    const result = await client.callTool({ name: 'x', arguments: {} }, undefined, { onprogress: (p) => { progress.push(p.progress) } })
    expect((result.content as Array<{ text: string }>)[0]?.text).toBe('done')
    expect(progress).toEqual([1])
    await closed
  })

  it('closes at once when nothing is held back', async () => {
    const [clientSide, serverSide] = InMemoryTransport.createLinkedPair()
    const transport = new OrderedTransport(clientSide)
    let closed = false
    transport.onclose = () => { closed = true }
    await transport.start()
    await serverSide.close()
    expect(closed).toBe(true)
  })
})
