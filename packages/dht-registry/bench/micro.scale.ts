/**
 * Micro benchmarks, competitors interleaved in one process, CPU time (docs/decisions/0003):
 * RFC 8785 canonicalisation with `canonicalize` (ours) against `json-canonicalize` and a
 * sorted-keys JSON.stringify; the cost of decoding and verifying one record; ranking a cache.
 *
 *   pnpm --filter @p2p-mcp/dht-registry bench
 */
import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { canonicalize as jsonCanonicalize } from 'json-canonicalize'
import { it } from 'vitest'
import { canonicalJson, compareScores, decodeRecord, encodeRecord } from '../src/index.js'
import { matches, scoreOf } from '../src/ranking.js'
import type { Descriptor } from '../src/index.js'

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 7)
const wall = process.env.TIMER === 'wall'

function now (): number {
  if (wall) return performance.now()
  const u = process.cpuUsage()
  return (u.user + u.system) / 1000
}

function sortedStringify (value: unknown): string {
  return JSON.stringify(value, (_k, v: unknown) => v !== null && typeof v === 'object' && !Array.isArray(v)
    ? Object.fromEntries(Object.entries(v).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)))
    : v)
}

/** Median per-operation time (µs) of each competitor, run interleaved. */
async function compare (ops: number, competitors: Record<string, () => unknown>): Promise<Record<string, number>> {
  const samples: Record<string, number[]> = Object.fromEntries(Object.keys(competitors).map((k) => [k, []]))
  let sink = 0
  for (let r = 0; r < ROUNDS; r++) {
    for (const [name, fn] of Object.entries(competitors)) {
      const s = now()
      for (let i = 0; i < ops; i++) { const out = await fn(); if (out !== undefined) sink++ }
      samples[name]!.push(((now() - s) * 1000) / ops)
    }
  }
  if (sink < 0) console.log(sink)
  return Object.fromEntries(Object.entries(samples).map(([k, v]) => [k, v.sort((a, b) => a - b)[Math.floor(v.length / 2)]!]))
}

function table (title: string, results: Record<string, number>, baseline: string): void {
  const base = results[baseline]!
  console.log(`\n${title} (${wall ? 'wall' : 'CPU'} time, median of ${ROUNDS} rounds)\n| competitor | µs/op | ratio to ${baseline} |\n| --- | --- | --- |`)
  for (const [k, v] of Object.entries(results)) console.log(`| ${k} | ${v.toFixed(2)} | ${(v / base).toFixed(2)} |`)
}

const toolSchema = {
  type: 'object',
  properties: {
    path: { type: 'string', description: 'Absolute path of the file to read', minLength: 1, maxLength: 4096 },
    encoding: { type: 'string', enum: ['utf8', 'base64', 'latin1'], default: 'utf8' },
    range: { type: 'object', properties: { start: { type: 'integer', minimum: 0 }, end: { type: 'integer', minimum: 0 } } },
    followSymlinks: { type: 'boolean', default: true },
    maxBytes: { type: 'number', maximum: 1e9, exclusiveMinimum: 0 },
  },
  required: ['path'],
  additionalProperties: false,
  $schema: 'http://json-schema.org/draft-07/schema#',
}

it('micro benchmarks', async () => {
  const key = await generateKeyPair('Ed25519')
  const peerId = peerIdFromPrivateKey(key).toString()
  const t = Date.now()
  const descriptor: Descriptor = {
    v: 1, peerId, multiaddrs: ['/ip4/10.0.0.5/tcp/4001'], seq: t, issuedAt: t, expiresAt: t + 3_600_000, heartbeatIntervalMs: 5000,
    servers: [{
      name: 'files', version: '1.2.0', description: 'File access',
      tools: Array.from({ length: 10 }, (_, i) => ({ name: `tool-${i}`, description: 'Reads a file from disk and returns it', inputSchemaHash: 'a'.repeat(64), annotations: { readOnlyHint: true } })),
      resourceTemplates: [{ name: 'file', uriTemplate: 'file:///{path}' }], prompts: [],
    }],
    capabilities: ['cuda', 'large-memory', 'ssd'], load: { inFlight: 1, ewmaLatencyMs: 12.5 }, accessPolicy: { maxConcurrentExecutions: 8 },
  }

  table('canonical JSON of a 0.5 KB tool input schema', await compare(20_000, {
    'canonicalize 5.1.0 (ours)': () => canonicalJson(toolSchema),
    'json-canonicalize 3.0.1': () => jsonCanonicalize(toolSchema),
    'sorted-keys JSON.stringify': () => sortedStringify(toolSchema),
  }), 'canonicalize 5.1.0 (ours)')

  table(`canonical JSON of a ${JSON.stringify(descriptor).length} B descriptor`, await compare(5_000, {
    'canonicalize 5.1.0 (ours)': () => canonicalJson(descriptor),
    'json-canonicalize 3.0.1': () => jsonCanonicalize(descriptor),
    'sorted-keys JSON.stringify': () => sortedStringify(descriptor),
  }), 'canonicalize 5.1.0 (ours)')

  const record = await encodeRecord(descriptor, key)
  table(`record of ${record.byteLength} B: sign, and decode + verify`, await compare(1_000, {
    'decodeRecord (size, JSON, zod, Ed25519 verify)': async () => decodeRecord(record),
    'encodeRecord (JCS + Ed25519 sign)': async () => encodeRecord(descriptor, key),
    'JSON.parse only': () => JSON.parse(new TextDecoder().decode(record)) as unknown,
  }), 'decodeRecord (size, JSON, zod, Ed25519 verify)')

  const cache = Array.from({ length: 1000 }, (_, i) => ({
    ...descriptor, peerId: `peer-${i}`, capabilities: i % 3 === 0 ? ['cuda'] : ['cpu', 'ssd'], load: { inFlight: i % 7, ewmaLatencyMs: i % 13 },
  }))
  const query = { tool: 'tool-3', capabilities: ['cuda'], requirements: { maxInFlight: 5 } }
  table('ranking a cache of 1000 providers (the work of a cached find())', await compare(200, {
    'filter + score + sort': () => cache.filter((d) => matches(d, query)).map((d) => ({ d, s: scoreOf(d, query) })).sort((a, b) => compareScores(a.s, b.s)),
  }), 'filter + score + sort')
}, 600_000)
