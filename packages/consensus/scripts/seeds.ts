/* eslint-disable no-console -- a command-line script reports on stdout */
// Runs many simulator seeds; resumable: results are appended to a JSON-lines file and seeds
// already in it are skipped. Usage:
//   node scripts/seeds.ts [--from 1] [--count 2000] [--out seeds-results.jsonl] [--profile <p>] [--nodes <n>]
// Needs a build first (pnpm --filter @p2p-mcp/consensus build). Mutation runs (deliberately
// broken cores) are in test/mutations.test.ts: the mutant core is a test-only subclass.
import { appendFileSync, existsSync, readFileSync } from 'node:fs'
import { simulate } from '../dist/sim/index.js'

const args = new Map<string, string>()
for (let i = 2; i < process.argv.length; i += 2) args.set(process.argv[i]!.replace(/^--/, ''), process.argv[i + 1] ?? '')
const from = Number(args.get('from') ?? 1)
const count = Number(args.get('count') ?? 2000)
const out = args.get('out') ?? 'seeds-results.jsonl'
const profile = args.get('profile') as Parameters<typeof simulate>[0]['profile']
const nodes = args.has('nodes') ? Number(args.get('nodes')) : undefined

const done = new Set<number>()
if (existsSync(out)) {
  for (const line of readFileSync(out, 'utf8').split('\n')) {
    if (line.trim() === '') continue
    done.add((JSON.parse(line) as { seed: number }).seed)
  }
}
const start = performance.now()
let ran = 0
let failed = 0
const totals: Record<string, number> = {}
for (let seed = from; seed < from + count; seed++) {
  if (done.has(seed)) continue
  const t = performance.now()
  const r = simulate({ seed, profile, nodes })
  ran++
  if (!r.ok) failed++
  for (const [k, v] of Object.entries(r.stats)) if (typeof v === 'number') totals[k] = (totals[k] ?? 0) + v
  appendFileSync(out, JSON.stringify({ seed, ok: r.ok, ms: Math.round(performance.now() - t), violations: r.violations, stats: r.stats, traceHash: r.traceHash }) + '\n')
  if (!r.ok) console.log(`seed ${seed} FAILED: ${r.violations.join('; ')}`)
}
const minutes = (performance.now() - start) / 60_000
console.log(JSON.stringify({ ran, failed, skipped: done.size, minutes: +minutes.toFixed(2), seedsPerMinute: ran > 0 ? Math.round(ran / minutes) : 0, totals }))
