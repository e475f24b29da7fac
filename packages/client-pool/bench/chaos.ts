// A long-running chaos check beside the test suite (not run by `npm test`): three in-memory
// replicas (real SDK McpServers) killed and revived at random under sustained load of an
// idempotent and a non-idempotent tool. It checks that no non-idempotent call ever runs
// twice and counts what failed and why. Exits 1 if an invariant breaks.
//
//   pnpm --filter @p2p-mcp/client-pool build
//   DURATION_S=60 SEED=7 node packages/client-pool/bench/chaos.ts
import { InMemoryTransport } from '@modelcontextprotocol/sdk/inMemory.js'
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js'
import type { Transport } from '@modelcontextprotocol/sdk/shared/transport.js'
import { z } from 'zod'
import { createClientPool } from '../dist/index.js'
import { mulberry32 } from '@p2p-mcp/testkit/random'

const SECONDS = Number(process.env.DURATION_S ?? 20)
const SEED = Number(process.env.SEED ?? 1)
const WORKERS = Number(process.env.WORKERS ?? 8)
const RECOVERY_MS = Number(process.env.RECOVERY_MS ?? 1000)

const random = mulberry32(SEED)

interface Replica { id: string, down: boolean, upSince: number, charges: Map<string, number>, links: Array<() => void> }

function replica (id: string): Replica {
  return { id, down: false, upSince: 0, charges: new Map(), links: [] }
}

async function connect (r: Replica): Promise<Transport> {
  if (r.down) throw new Error(`${r.id} is down`)
  const server = new McpServer({ name: 'chaos', version: '1.0.0' })
  const pause = async (): Promise<void> => { await new Promise((resolve) => setTimeout(resolve, 1 + random() * 4)) }
  server.registerTool('add', { inputSchema: { a: z.number() }, annotations: { idempotentHint: true } }, async ({ a }) => {
    await pause()
    return { content: [{ type: 'text', text: String(a + 1) }] }
  })
  server.registerTool('charge', { inputSchema: { key: z.string() } }, async ({ key }) => {
    r.charges.set(key, (r.charges.get(key) ?? 0) + 1)
    await pause()
    return { content: [{ type: 'text', text: key }] }
  })
  const [client, side] = InMemoryTransport.createLinkedPair()
  // A kill drops the link without a close handshake: the client sees its transport close,
  // the server never hears of it, and its replies go nowhere.
  let dead = false
  const send = side.send.bind(side)
  side.send = async (m, o) => { if (!dead) await send(m, o) }
  r.links.push(() => { dead = true; client.onclose?.() })
  await server.connect(side)
  return client
}

const replicas = ['a', 'b', 'c'].map(replica)
const pool = createClientPool({
  endpoints: replicas.map((r) => ({ id: r.id, connect: async () => await connect(r) })),
  healthCheck: { intervalMs: 100, timeoutMs: 200 },
  outlierDetection: { consecutiveFailures: 3, baseEjectionMs: 200 },
  circuitBreaker: { halfOpenAfterMs: 200 },
  reconnect: { initialDelayMs: 20, maxDelayMs: 200 },
  random,
})

const outcomes = new Map<string, number>()
const count = (k: string): void => { outcomes.set(k, (outcomes.get(k) ?? 0) + 1) }
const end = performance.now() + SECONDS * 1000
let seq = 0
let kills = 0

const chaos = (async () => {
  while (performance.now() < end) {
    await new Promise((resolve) => setTimeout(resolve, 50 + random() * 300))
    const r = replicas[Math.floor(random() * replicas.length)]!
    // Kill only while another replica has been back long enough to be usable again
    // (sessions reopened, breaker closed); revive at once.
    const now = performance.now()
    if (!r.down && replicas.some((x) => x !== r && !x.down && now - x.upSince > RECOVERY_MS)) {
      r.down = true
      kills++
      for (const kill of r.links.splice(0)) kill()
    } else if (r.down) {
      r.down = false
      r.upSince = now
    }
  }
})()

const workers = Array.from({ length: WORKERS }, async () => {
  while (performance.now() < end) {
    const n = seq++
    const tool = n % 2 === 0 ? 'add' : 'charge'
    try {
      await pool.callTool(tool === 'add' ? { name: 'add', arguments: { a: n } } : { name: 'charge', arguments: { key: `k${n}` } })
      count(`${tool} ok`)
    } catch (err) {
      const e = err as { name?: string, reason?: string }
      count(`${tool} ${e.name ?? 'error'}${e.reason === undefined ? '' : ` (${e.reason})`}`)
    }
  }
})

await Promise.all([chaos, ...workers])
await pool.close()

let twice = 0
const seen = new Map<string, number>()
for (const r of replicas) for (const [k, v] of r.charges) seen.set(k, (seen.get(k) ?? 0) + v)
for (const v of seen.values()) if (v > 1) twice++

console.log(`chaos: ${SECONDS} s, seed ${SEED}, ${WORKERS} workers, recovery ${RECOVERY_MS} ms, ${kills} kills, ${seq} calls, ${pool.stats().retries} retries`)
for (const [k, v] of [...outcomes].sort()) console.log(`  ${k}: ${v}`)
console.log(`  charge keys executed more than once: ${twice}`)
if (twice > 0) process.exit(1)
