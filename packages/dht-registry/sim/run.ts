/**
 * The registry at 30 .. 10,000 peers, by simulation (see model.ts and docs/scale.md).
 *
 *   pnpm --filter @p2p-mcp/dht-registry sim            # SIM_SEED=18 SIM_SIZES=30,100,300,1000,3000,10000
 *
 * Writes docs/scale/sim.json and the SVG plots in docs/scale/, prints the tables of docs/scale.md,
 * and compares N = 100 with the newest .bench-results/mesh-100-*.json when there is one.
 */
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs'
import { mulberry32 } from '@p2p-mcp/testkit/random'
import { REGISTRY_GOSSIP } from '../src/constants.js'
import { buildDht, buildTopology, simulateLookup, simulatePublish } from './model.js'
import type { GossipParams } from './model.js'
import { lineChart } from './svg.js'

const SEED = Number(process.env.SIM_SEED ?? 18)
const SIZES = (process.env.SIM_SIZES ?? '30,100,300,1000,3000,10000').split(',').map(Number)
const PUBLISHES = Number(process.env.SIM_PUBLISHES ?? 10)
const LOOKUPS = Number(process.env.SIM_LOOKUPS ?? 100)
const DIALS = 3
/** Measured on this machine (docs/benchmarks/dht-registry.md, docs/scale.md). */
const COST = {
  /** Encoded record with one server and two tools, bytes (the harness's records). */
  recordBytes: Number(process.env.SIM_RECORD_BYTES ?? 800),
  /** Framing, gossipsub protobuf, signature and key of a gossipsub message, yamux + noise, bytes. */
  messageOverheadBytes: 180,
  /** decodeRecord (JSON, schema, JCS, Ed25519 verify), µs CPU. */
  decodeUs: 136,
  /** gossipsub's own StrictSign verification of a first copy, µs CPU. */
  gossipVerifyUs: 74,
  /** A duplicate copy: decrypt, decode the RPC, drop by message id, µs CPU (estimate). */
  duplicateUs: 15,
  /** A message id in IHAVE, bytes. */
  messageIdBytes: 42,
}
/** Churn: every peer changes what it serves once an hour; 1 % of the peers are replaced every 10 min. */
const CHURN = { contentChangesPerPeerPerHour: 1, replacedFractionPer10Min: 0.01 }
const HEARTBEATS_MS = [500, 5_000]
const print = (line: string): void => { process.stdout.write(`${line}\n`) }

const root = new URL('../../../', import.meta.url)
const outDir = new URL('docs/scale/', root)

function quantile (xs: number[], q: number): number {
  const s = [...xs].sort((a, b) => a - b)
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil(q * s.length) - 1))] ?? Number.NaN
}
const round = (x: number, d = 1): number => Math.round(x * 10 ** d) / 10 ** d

function gossipParams (heartbeatMs: number): GossipParams {
  return {
    hopMs: Number(process.env.SIM_HOP_MS ?? 15),
    hopSigma: 0.6,
    loss: Number(process.env.SIM_LOSS ?? 0.01),
    gossipHeartbeatMs: REGISTRY_GOSSIP.heartbeatInterval,
    mcacheGossip: REGISTRY_GOSSIP.mcacheGossip,
    dLazy: REGISTRY_GOSSIP.Dlazy,
    antiEntropyMs: Math.min(1000, heartbeatMs / 2),
    reannounceMs: [150, 600].filter((d) => d < heartbeatMs),
  }
}

interface Row {
  n: number
  meanDegree: number
  gossip: { allP50Ms: number, allP99Ms: number, perPeerP99Ms: number, maxHops: number, copiesPerPeer: number, lostAfter5s: number, repaired: { iwant: number, antiEntropy: number, reannounce: number } }
  dht: { hopsP50: number, hopsMax: number, roundsP50: number, messagesP50: number, messagesP99: number, exact: number }
  perPeer: Record<string, { recordsPerS: number, bytesInPerS: number, ihaveBytesPerS: number, antiEntropyBytesPerS: number, cpuMsPerS: number, mismatchProbability: number }>
  churn: { obituaryBytesPerDeathPerPeer: number, probesPerDeathWithObituaries: number, probesPerDeathWithout: number }
}

const rows: Row[] = []
const random = mulberry32(SEED)
for (const n of SIZES) {
  const t0 = performance.now()
  const topo = buildTopology(n, DIALS, REGISTRY_GOSSIP.Dhi, SEED + n)
  const meanDegree = topo.links.reduce((a, l) => a + l.length, 0) / n
  const params = gossipParams(HEARTBEATS_MS[0]!)
  const all: number[] = []
  const perPeer: number[] = []
  let hops = 0
  let transmissions = 0
  let lost = 0
  const repaired = { iwant: 0, antiEntropy: 0, reannounce: 0 }
  for (let k = 0; k < PUBLISHES; k++) {
    const r = simulatePublish(topo, Math.floor(random() * n), params, SEED * 1000 + k, 5_000)
    all.push(r.allMs)
    perPeer.push(...r.arrivals)
    hops = Math.max(hops, r.hops)
    transmissions += r.transmissions
    lost += r.arrivals.filter((x) => !Number.isFinite(x)).length
    repaired.iwant += r.repairedByIwant
    repaired.antiEntropy += r.repairedByAntiEntropy
    repaired.reannounce += r.repairedByReannounce
  }
  // copies of one message a peer receives (all transmissions of the original and its re-announcements, per peer and copy)
  const copiesPerPeer = transmissions / PUBLISHES / n / (1 + params.reannounceMs.length)
  const allP50 = quantile(all, 0.5)

  const dhtN = Math.min(n, 10_000)
  const dht = buildDht(dhtN, 20, SEED + 7 * n)
  const lookups = Array.from({ length: LOOKUPS }, () => simulateLookup(dht, Math.floor(random() * dhtN), Math.floor(random() * 2 ** 32), 20, 3))

  const replacedPerS = n * CHURN.replacedFractionPer10Min / 600
  const changesPerS = n * CHURN.contentChangesPerPeerPerHour / 3600 + 2 * replacedPerS
  const perPeerCost: Row['perPeer'] = {}
  for (const hb of HEARTBEATS_MS) {
    const p = gossipParams(hb)
    const recordsPerS = (n - 1) * 1000 / hb
    const copiesPerS = recordsPerS * copiesPerPeer
    const msgBytes = COST.recordBytes + COST.messageOverheadBytes
    // IHAVE: each gossip heartbeat, to Dlazy peers, the ids of the last mcacheGossip windows (an upper bound: only non-mesh links get it)
    const idsPerIhave = recordsPerS * p.mcacheGossip * p.gossipHeartbeatMs / 1000
    const ihaveBytesPerS = (1000 / p.gossipHeartbeatMs) * Math.min(p.dLazy, meanDegree) * idsPerIhave * COST.messageIdBytes
    // anti-entropy: a digest each round; the whole set when the two views differ, which they do while a change spreads
    const mismatchProbability = Math.min(1, changesPerS * (allP50 + p.antiEntropyMs) / 1000)
    const aeRoundsPerS = 1000 / p.antiEntropyMs
    const antiEntropyBytesPerS = aeRoundsPerS * (120 + mismatchProbability * n * msgBytes)
    const cpuMsPerS = (recordsPerS * (COST.decodeUs + COST.gossipVerifyUs) + (copiesPerS - recordsPerS) * COST.duplicateUs +
      aeRoundsPerS * mismatchProbability * n * COST.decodeUs) / 1000
    perPeerCost[`hb${hb}`] = {
      recordsPerS: round(recordsPerS), bytesInPerS: Math.round(copiesPerS * msgBytes), ihaveBytesPerS: Math.round(ihaveBytesPerS),
      antiEntropyBytesPerS: Math.round(antiEntropyBytesPerS), cpuMsPerS: round(cpuMsPerS), mismatchProbability: round(mismatchProbability, 3),
    }
  }
  rows.push({
    n,
    meanDegree: round(meanDegree),
    gossip: {
      allP50Ms: Math.round(allP50), allP99Ms: Math.round(quantile(all, 0.99)), perPeerP99Ms: Math.round(quantile(perPeer, 0.99)),
      maxHops: hops, copiesPerPeer: round(copiesPerPeer, 2), lostAfter5s: lost, repaired,
    },
    dht: {
      hopsP50: quantile(lookups.map((l) => l.hops), 0.5), hopsMax: Math.max(...lookups.map((l) => l.hops)), roundsP50: quantile(lookups.map((l) => l.rounds), 0.5),
      messagesP50: quantile(lookups.map((l) => l.messages), 0.5), messagesP99: quantile(lookups.map((l) => l.messages), 0.99),
      exact: lookups.filter((l) => l.exact).length / lookups.length,
    },
    perPeer: perPeerCost,
    churn: {
      obituaryBytesPerDeathPerPeer: Math.round(copiesPerPeer * (120 + COST.messageOverheadBytes)),
      probesPerDeathWithObituaries: round(meanDegree),
      probesPerDeathWithout: n - 1,
    },
  })
  process.stderr.write(`N=${n}: simulated in ${Math.round(performance.now() - t0)} ms\n`)
}

mkdirSync(outDir, { recursive: true })
writeFileSync(new URL('sim.json', outDir), `${JSON.stringify({ seed: SEED, publishes: PUBLISHES, lookups: LOOKUPS, cost: COST, churn: CHURN, rows }, null, 2)}\n`)

const ns = rows.map((r) => r.n)
writeFileSync(new URL('bytes-per-peer.svg', outDir), lineChart({
  title: 'Bytes received per peer per second (simulated)', xLabel: 'peers (N)', yLabel: 'bytes/s', logY: true,
  x: ns,
  series: [
    { name: 'heartbeats, hb 500 ms', y: rows.map((r) => r.perPeer.hb500!.bytesInPerS) },
    { name: 'heartbeats, hb 5 s', y: rows.map((r) => r.perPeer.hb5000!.bytesInPerS) },
    { name: 'anti-entropy, hb 5 s', y: rows.map((r) => r.perPeer.hb5000!.antiEntropyBytesPerS) },
    { name: 'IHAVE bound, hb 5 s', y: rows.map((r) => r.perPeer.hb5000!.ihaveBytesPerS) },
  ],
}))
writeFileSync(new URL('cpu-per-peer.svg', outDir), lineChart({
  title: 'CPU per peer, ms per second (simulated)', xLabel: 'peers (N)', yLabel: 'ms CPU / s', logY: true,
  x: ns,
  series: [
    { name: 'hb 500 ms', y: rows.map((r) => r.perPeer.hb500!.cpuMsPerS) },
    { name: 'hb 5 s', y: rows.map((r) => r.perPeer.hb5000!.cpuMsPerS) },
    { name: 'one core', y: ns.map(() => 1000) },
  ],
}))
writeFileSync(new URL('propagation.svg', outDir), lineChart({
  title: 'New announcement at every peer, ms (simulated, 1 % loss)', xLabel: 'peers (N)', yLabel: 'ms',
  x: ns,
  series: [
    { name: 'p50 all peers', y: rows.map((r) => r.gossip.allP50Ms) },
    { name: 'p99 all peers', y: rows.map((r) => r.gossip.allP99Ms) },
    { name: 'max eager hops × 100', y: rows.map((r) => r.gossip.maxHops * 100) },
  ],
}))
writeFileSync(new URL('dht-lookup.svg', outDir), lineChart({
  title: 'Kademlia lookup (k 20, alpha 3), simulated', xLabel: 'peers (N)', yLabel: 'count',
  x: ns,
  series: [
    { name: 'messages p50', y: rows.map((r) => r.dht.messagesP50) },
    { name: 'hops to the closest p50', y: rows.map((r) => r.dht.hopsP50) },
    { name: 'rounds (alpha 3) p50', y: rows.map((r) => r.dht.roundsP50) },
    { name: 'log2 N', y: ns.map((n) => round(Math.log2(n))) },
  ],
}))

print('| N | mean degree | visible at all p50 / p99 ms | per peer p99 ms | max hops | copies per peer per message | not reached in 5 s | repaired by IWANT / anti-entropy / re-announce | DHT hops to closest p50 (max) | DHT rounds p50 | DHT messages p50 / p99 | closest found |')
print('| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |')
for (const r of rows) {
  print(`| ${r.n} | ${r.meanDegree} | ${r.gossip.allP50Ms} / ${r.gossip.allP99Ms} | ${r.gossip.perPeerP99Ms} | ${r.gossip.maxHops} | ${r.gossip.copiesPerPeer} | ${r.gossip.lostAfter5s} | ` +
    `${r.gossip.repaired.iwant} / ${r.gossip.repaired.antiEntropy} / ${r.gossip.repaired.reannounce} | ${r.dht.hopsP50} (${r.dht.hopsMax}) | ${r.dht.roundsP50} | ${r.dht.messagesP50} / ${r.dht.messagesP99} | ${r.dht.exact} |`)
}
print('\n| N | heartbeat | records/s per peer | bytes in/s per peer | IHAVE bound bytes/s | anti-entropy bytes/s (P mismatch) | CPU ms/s per peer | obituary bytes per death per peer | probes per death (with / without obituaries) |')
print('| --- | --- | --- | --- | --- | --- | --- | --- | --- |')
for (const r of rows) {
  for (const hb of HEARTBEATS_MS) {
    const c = r.perPeer[`hb${hb}`]!
    print(`| ${r.n} | ${hb} ms | ${c.recordsPerS} | ${c.bytesInPerS} | ${c.ihaveBytesPerS} | ${c.antiEntropyBytesPerS} (${c.mismatchProbability}) | ${c.cpuMsPerS} | ${r.churn.obituaryBytesPerDeathPerPeer} | ${r.churn.probesPerDeathWithObituaries} / ${r.churn.probesPerDeathWithout} |`)
  }
}

// the real run at N = 100, when there is one
const results = new URL('.bench-results/', root)
let real: string | undefined
try {
  real = readdirSync(results).filter((f) => /^mesh-100-\d+\.json$/.test(f)).sort().at(-1)
} catch { /* no results yet */ }
const sim100 = rows.find((r) => r.n === 100)
if (real !== undefined && sim100 !== undefined) {
  const m = JSON.parse(readFileSync(new URL(real, results), 'utf8')) as {
    heartbeatMs: number, loadAverage: { start: number[] }, steady: { recordsAcceptedPerPeerPerS: number, cpuPercentOfCorePerPeer: number }, visibleAtEveryPeerMs: { p50: number, p99: number }
  }
  const c = sim100.perPeer[`hb${m.heartbeatMs}`]
  print(`\nN = 100 against ${real} (heartbeat ${m.heartbeatMs} ms, load ${m.loadAverage.start[0]}):`)
  print(`| | simulated | measured |\n| --- | --- | --- |`)
  print(`| records accepted per peer per s | ${c?.recordsPerS} | ${m.steady.recordsAcceptedPerPeerPerS} |`)
  print(`| CPU per peer, ms/s | ${c?.cpuMsPerS} | ${round(m.steady.cpuPercentOfCorePerPeer * 10)} |`)
  print(`| new tool at every peer p50 / p99 ms | ${sim100.gossip.allP50Ms} / ${sim100.gossip.allP99Ms} | ${m.visibleAtEveryPeerMs.p50} / ${m.visibleAtEveryPeerMs.p99} |`)
}
