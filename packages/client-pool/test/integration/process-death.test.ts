// Replicas as real child processes over stdio; one is SIGKILLed under load.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { createClientPool } from '../../src/index.js'
import type { ClientPool } from '../../src/index.js'
import { processReplica, type ProcessReplica } from '../process-replica.js'
import { load, nextEvent } from '../replica.js'

let dir = ''
let pool: ClientPool | undefined
let replicas: ProcessReplica[] = []

beforeEach(() => { dir = mkdtempSync(join(tmpdir(), 'client-pool-')) })
afterEach(async () => {
  await pool?.close()
  for (const r of replicas) r.kill()
  rmSync(dir, { recursive: true, force: true })
  pool = undefined
  replicas = []
})

async function start (): Promise<ClientPool> {
  const ledger = join(dir, 'ledger.txt')
  replicas = ['a', 'b', 'c'].map((id) => processReplica(id, { LEDGER: ledger }))
  pool = createClientPool({ endpoints: replicas.map((r) => r.spec), balancer: 'round-robin', healthCheck: false, retry: { minRetriesPerSecond: 100 } })
  // Open all three sessions (three processes) before the load starts.
  await Promise.all(['a', 'b', 'c'].map(async (id) => await pool!.listTools(undefined, { endpoint: id })))
  return pool
}

describe('a replica process killed with SIGKILL under load', () => {
  it('idempotent tool: zero failed calls', async () => {
    const pool = await start()
    const closed = nextEvent(pool, 'session:closed', (d: { id: string }) => d.id === 'b')
    let failed = 0
    await load(300, 9, async (i) => {
      if (i === 100) replicas[1]!.kill()
      try {
        const r = await pool.callTool({ name: 'add', arguments: { a: i, b: 2 } })
        expect(r.content).toEqual([{ type: 'text', text: String(i + 2) }])
      } catch (err) {
        failed++
        throw err
      }
    })
    await closed
    expect(failed).toBe(0)
    expect(pool.stats().retries).toBeGreaterThan(0)
  })

  it('non-idempotent tool: the ledger shows no key twice, failures are CallFailedError', async () => {
    const pool = await start()
    const errors: Error[] = []
    let ok = 0
    await load(300, 9, async (i) => {
      if (i === 100) replicas[1]!.kill()
      try {
        await pool.callTool({ name: 'charge', arguments: { key: `k${i}` } })
        ok++
      } catch (err) {
        errors.push(err as Error)
      }
    })
    const lines = readFileSync(join(dir, 'ledger.txt'), 'utf8').trim().split('\n')
    const keys = lines.map((l) => l.split(' ')[0]!)
    expect(new Set(keys).size).toBe(keys.length)
    expect(ok + errors.length).toBe(300)
    expect(errors.length).toBeGreaterThan(0)
    for (const err of errors) {
      expect(err.name).toBe('CallFailedError')
      expect(err.message).toContain('not retried')
    }
    // Every successful call is in the ledger exactly once.
    expect(keys.length).toBeGreaterThanOrEqual(ok)
  })
})
