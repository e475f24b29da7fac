// What server-name trust adds to each catalog update: `groupProviders(providers)` (the catalog's
// grouping, what every update did before) side by side with `groupProviders(trust.filter(providers))`
// (pins checked, banned peers dropped), over P providers with 3 servers each, a quarter of them
// impostors with another definition. Pin hashes are cached per descriptor entry, as the registry
// keeps a provider's descriptor object between updates; `cold` measures the first pass (no cache).
//   node --import ../testkit/src/ts-hooks.ts bench/trust-filter.bench.ts   (BENCH_PROVIDERS=100,1000, BENCH_ROUNDS=200)
import { loadavg } from 'node:os'
import type { ProviderMatch, ServerEntry } from '@p2p-mcp/dht-registry'
import { groupProviders } from '../src/catalog.js'
import { noopLogger } from '../src/logger.js'
import { TrustConfigSchema } from '../src/trust/config-schema.js'
import { ServerTrust, pinHash } from '../src/trust/server-trust.js'

const SIZES = (process.env.BENCH_PROVIDERS ?? '100,1000').split(',').map(Number)
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 200)

function entry (name: string, salt: string): ServerEntry {
  const tools = Array.from({ length: 8 }, (_, i) => ({ name: `tool${i}`, inputSchemaHash: `${salt}${i}`.padEnd(64, '0') }))
  return { name, version: '1.0.0', tools, resourceTemplates: [], prompts: [] }
}

function providers (n: number): ProviderMatch[] {
  return Array.from({ length: n }, (_, i) => {
    const impostor = i % 4 === 3
    const servers = ['calc', 'notes', `own${i % 50}`].map((s) => entry(s, impostor ? 'b' : 'a'))
    const peerId = `peer-${String(i).padStart(6, '0')}`
    return { peerId, source: 'gossip', score: { distance: 0, load: 0, latencyMs: 0 }, descriptor: { peerId, servers } } as unknown as ProviderMatch
  })
}

function median (xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b)
  return s[Math.floor(s.length / 2)] ?? NaN
}

process.stdout.write(`trust-filter bench, ${new Date().toISOString()}, load average ${loadavg().map((l) => l.toFixed(1)).join(' ')}, node ${process.version}\n`)
for (const n of SIZES) {
  const ps = providers(n)
  const trust = new ServerTrust({ config: TrustConfigSchema.parse({}), controlPlaneEnabled: true, logger: noopLogger })
  // every name pinned to the real definition, as after the first uses
  const pins = Object.fromEntries([...new Set(ps.flatMap((p) => p.descriptor.servers.map((s) => s.name)))].map((name) => [name, { hash: pinHash(entry(name, 'a')), source: 'first-use' as const, revision: 1, pinnedAtMs: 0, pinnedBy: 'x' }]))
  trust.setReplicated({ version: 1, pins, bans: {} })
  let t = performance.now()
  groupProviders(trust.filter(ps))
  const cold = performance.now() - t
  const plain: number[] = []
  const filtered: number[] = []
  for (let r = 0; r < ROUNDS; r++) {
    t = performance.now(); groupProviders(ps); plain.push(performance.now() - t)
    t = performance.now(); groupProviders(trust.filter(ps)); filtered.push(performance.now() - t)
  }
  const p = median(plain)
  const f = median(filtered)
  process.stdout.write(`providers ${n}: groupProviders ${p.toFixed(3)} ms, filter + groupProviders ${f.toFixed(3)} ms (+${(f - p).toFixed(3)} ms, ${(f / p).toFixed(2)}×), cold first pass ${cold.toFixed(2)} ms, refused ${trust.refused.length}\n`)
}
