import { describe, expect, it } from 'vitest'
import { createClientPool } from '../src/index.js'
import { Replica } from './replica.js'

describe('smoke', () => {
  it('calls a tool through the pool', async () => {
    const replicas = [new Replica({ id: 'a' }), new Replica({ id: 'b' })]
    const pool = createClientPool({ endpoints: replicas.map((r) => r.spec), healthCheck: false })
    const r = await pool.callTool({ name: 'echo', arguments: { text: 'hi' } })
    expect(r.content).toBeDefined()
    for (let i = 0; i < 20; i++) await pool.callTool({ name: 'echo', arguments: { text: 'hi' } })
    await pool.close()
  })
})
