// Side-by-side benchmark of vector clocks and Merkle clocks, all in one process.
//
//   pnpm --filter @p2p-mcp/merkle-clock build && pnpm --filter @p2p-mcp/merkle-clock bench
//   ROUNDS=7 APPENDS=100000 DIVERGENCE=10000 node packages/merkle-clock/bench/clock.bench.ts
//   ONLY=hash,sync node packages/merkle-clock/bench/clock.bench.ts
//
// Each case runs every library ROUNDS times, library order rotated each round, and reports
// the median. Results of the libraries are checked against each other where they overlap.
import { createHash } from 'node:crypto'
import * as dagCbor from '@ipld/dag-cbor'
import * as thing from '@thi.ng/vclock'
import { MemoryBlockstore as PailBlockstore } from '@web3-storage/pail/block'
import { EventBlock as PailEvent, advance as pailAdvance } from '@web3-storage/pail/clock'
import { CID } from 'multiformats/cid'
import { sha256 } from 'multiformats/hashes/sha2'
import * as mixu from 'vectorclock'
import { MerkleClock, VectorClock } from '../dist/index.js'
import { mulberry32 } from '@p2p-mcp/testkit/random'

const ROUNDS = Number(process.env.ROUNDS ?? 5)
const ENTRIES = Number(process.env.ENTRIES ?? 1000)
const APPENDS = Number(process.env.APPENDS ?? 100_000)
const DIVERGENCE = Number(process.env.DIVERGENCE ?? 10_000)
const BASE = Number(process.env.BASE ?? 1000)
/** Comma-separated cases to run (merge, compare, hash, append, sync); all when unset. */
const ONLY = process.env.ONLY?.split(',')
const want = (key: string): boolean => ONLY === undefined || ONLY.includes(key)


function median (xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b)
  return s[Math.floor(s.length / 2)]!
}

type Case = Record<string, () => unknown>

/** Runs each library's function `ROUNDS` times, rotating the order; returns median ms per library. */
async function run (name: string, libs: Case, unit: { ops: number, label: string }): Promise<void> {
  const names = Object.keys(libs)
  const times = new Map(names.map((n) => [n, [] as number[]]))
  const results = new Map<string, unknown>()
  for (let r = 0; r < ROUNDS; r++) {
    for (let i = 0; i < names.length; i++) {
      const lib = names[(i + r) % names.length]!
      const t0 = performance.now()
      const out = await libs[lib]!()
      times.get(lib)!.push(performance.now() - t0)
      results.set(lib, out)
    }
  }
  const best = Math.min(...names.map((n) => median(times.get(n)!)))
  console.log(`\n### ${name}\n`)
  console.log(`| library | median ms | ${unit.label} | time vs fastest |`)
  console.log('| --- | --- | --- | --- |')
  for (const n of names) {
    const ms = median(times.get(n)!)
    const rate = unit.ops / (ms / 1000)
    console.log(`| ${n} | ${ms.toFixed(2)} | ${rate >= 1e6 ? `${(rate / 1e6).toFixed(2)}M` : rate >= 1e3 ? `${(rate / 1e3).toFixed(1)}k` : rate.toFixed(0)} | ${(ms / best).toFixed(2)}× |`)
  }
  console.log(`\nresults: ${JSON.stringify(Object.fromEntries(results))}`)
}

// ---------------------------------------------------------------------------------------
// Vector clocks with ENTRIES entries each, over 1.5 × ENTRIES ids (two thirds shared).

const rand = mulberry32(42)
const ids = Array.from({ length: Math.round(ENTRIES * 1.5) }, (_, i) => `peer-${i.toString(36)}-${Math.floor(rand() * 1e6)}`)
function vector (from: number): Record<string, number> {
  const v: Record<string, number> = {}
  for (let i = from; i < from + ENTRIES; i++) v[ids[i]!] = 1 + Math.floor(rand() * 1000)
  return v
}
const va = vector(0)
const vb = vector(Math.round(ENTRIES / 2))
const ca = new VectorClock(ids[0]!, va)
const cb = new VectorClock(ids[ENTRIES]!, vb)
const ahead = ca.clone().merge(cb) // ordered after both
const vAhead = Object.fromEntries(ahead.entries())
const REPS = 2000

if (want('merge')) await run(`merge two ${ENTRIES}-entry vector clocks into a new clock (${REPS}×)`, {
  '@p2p-mcp/merkle-clock': () => { let s = 0; for (let i = 0; i < REPS; i++) s += ca.clone().merge(cb).size; return s },
  '@thi.ng/vclock': () => { let s = 0; for (let i = 0; i < REPS; i++) s += Object.keys(thing.merge(va, vb)).length; return s },
  'vectorclock (mixu)': () => { let s = 0; for (let i = 0; i < REPS; i++) s += Object.keys(mixu.merge(va, vb)).length; return s },
}, { ops: REPS, label: 'merges/s' })

if (want('compare')) await run(`compare two ${ENTRIES}-entry vector clocks, concurrent and ordered (${REPS}× each)`, {
  '@p2p-mcp/merkle-clock': () => { let s = 0; for (let i = 0; i < REPS; i++) s += ca.compare(cb) + 2 * ca.compare(ahead); return s },
  '@thi.ng/vclock': () => { let s = 0; for (let i = 0; i < REPS; i++) s += thing.compare(va, vb) + 2 * Math.sign(thing.compare(va, vAhead)); return s },
  'vectorclock (mixu)': () => { let s = 0; for (let i = 0; i < REPS; i++) s += mixu.compare(va, vb) + 2 * mixu.compare(va, vAhead); return s },
}, { ops: 2 * REPS, label: 'compares/s' })

const HREPS = 500
if (want('hash')) await run(`hash a ${ENTRIES}-entry vector clock (fresh clock each time, ${HREPS}×)`, {
  'canonical (dag-cbor + sha256)': () => { let s = ''; for (let i = 0; i < HREPS; i++) s = ca.clone().hash(); return s },
  'python-json (seed get_hash)': () => { let s = ''; for (let i = 0; i < HREPS; i++) s = ca.clone().hash({ encoding: 'python-json' }); return s },
  'naive JSON.stringify + sha256 (not seed-compatible)': () => {
    let s = ''
    for (let i = 0; i < HREPS; i++) s = createHash('sha256').update(JSON.stringify(Object.entries(va).sort((x, y) => (x[0] < y[0] ? -1 : 1)))).digest('hex')
    return s.length
  },
}, { ops: HREPS, label: 'hashes/s' })

// ---------------------------------------------------------------------------------------
// Merkle clocks: appends.

if (want('append')) await run(`append ${APPENDS} events to a Merkle clock`, {
  '@p2p-mcp/merkle-clock': async () => {
    const clock = new MerkleClock<number>()
    for (let i = 0; i < APPENDS; i++) await clock.advance(i)
    return clock.heads.length
  },
  '@web3-storage/pail clock': async () => {
    const blocks = new PailBlockstore()
    let head: CID[] = []
    for (let i = 0; i < APPENDS; i++) {
      const event = await PailEvent.create(i, head as never)
      blocks.putSync(event.cid, event.bytes)
      head = await pailAdvance(blocks, head as never, event.cid) as unknown as CID[]
    }
    return head.length
  },
  'floor: dag-cbor encode + sha256 + Map.set only': () => {
    const map = new Map<string, Uint8Array>()
    let parents: CID[] = []
    for (let i = 0; i < APPENDS; i++) {
      const bytes = dagCbor.encode({ parents, payload: i, height: i + 1 })
      const cid = CID.createV1(dagCbor.code, sha256.digest(bytes) as Awaited<ReturnType<typeof sha256.digest>>)
      map.set(cid.toString(), bytes)
      parents = [cid]
    }
    return parents.length
  },
}, { ops: APPENDS, label: 'events/s' })

// ---------------------------------------------------------------------------------------
// Sync: B has BASE events; A has them plus DIVERGENCE more. B catches up.

if (want('sync')) {
  const source = new MerkleClock<number>()
  for (let i = 0; i < BASE + DIVERGENCE; i++) {
    await source.advance(i)
  }
  const baseHeads: CID[] = []
  {
    let i = 0
    for await (const e of source.events()) if (++i === BASE) baseHeads.push(e.cid)
  }
  const pailSource = new PailBlockstore()
  const pailChain: CID[] = []
  {
    let head: CID[] = []
    for (let i = 0; i < BASE + DIVERGENCE; i++) {
      const event = await PailEvent.create(i, head as never)
      pailSource.putSync(event.cid, event.bytes)
      head = [event.cid as unknown as CID]
      pailChain.push(head[0]!)
    }
  }

  const syncOnly = { ours: [] as number[], pail: [] as number[] }
  await run(`sync a ${DIVERGENCE}-event divergence (pull over an in-process fetch)`, {
    '@p2p-mcp/merkle-clock': async () => {
      // B: a clock holding the first BASE events.
      const b = new MerkleClock<number>()
      await b.merge(baseHeads, { fetch: (cid) => source.store.get(cid) })
      let fetched = 0
      const t0 = performance.now()
      const { added } = await b.merge(source.heads, { fetch: (cid) => { fetched++; return source.store.get(cid) } })
      syncOnly.ours.push(performance.now() - t0)
      if (added.length !== DIVERGENCE || fetched !== DIVERGENCE) throw new Error(`fetched ${fetched}, added ${added.length}`)
      return fetched
    },
    '@web3-storage/pail clock': async () => {
      const local = new PailBlockstore()
      for (const cid of pailChain.slice(0, BASE)) local.putSync(cid, (await pailSource.get(cid as never))!.bytes)
      let fetched = 0
      const fetcher = {
        get: async (cid: CID) => {
          const have = await local.get(cid as never)
          if (have !== undefined) return have
          fetched++
          const block = await pailSource.get(cid as never)
          if (block !== undefined) local.putSync(cid, block.bytes)
          return block
        },
      }
      const t0 = performance.now()
      const head = await pailAdvance(fetcher as never, [pailChain[BASE - 1]] as never, pailChain.at(-1) as never)
      syncOnly.pail.push(performance.now() - t0)
      if ((head as unknown[]).length !== 1) throw new Error('pail did not advance')
      return fetched
    },
  }, { ops: DIVERGENCE, label: 'events/s (incl. building B)' })
  console.log(`\nsync step alone, median ms: @p2p-mcp/merkle-clock ${median(syncOnly.ours).toFixed(1)}, pail ${median(syncOnly.pail).toFixed(1)}`)
}
console.log(`\nNode ${process.version}, ROUNDS=${ROUNDS}, ENTRIES=${ENTRIES}, APPENDS=${APPENDS}, DIVERGENCE=${DIVERGENCE}, BASE=${BASE}`)
