/* eslint-disable no-console -- a command-line script reports on stdout */
// The long, seeded version of test/cluster.test.ts: many runs of a 3- or 5-process cluster
// under SIGKILL (leader included), restarts and connection-gater partitions, each history
// checked for linearizability and lost acknowledged appends. One JSON line per run.
//   node scripts/jepsen.ts [--runs 10] [--seed 1] [--nodes 3] [--seconds 60] [--clients 8]
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { chaos, KvCluster, prng, runClients, verify } from '../test/harness.ts'

const { values } = parseArgs({ options: { runs: { type: 'string' }, seed: { type: 'string' }, nodes: { type: 'string' }, seconds: { type: 'string' }, clients: { type: 'string' } } })
const runs = Number(values.runs ?? 10)
const first = Number(values.seed ?? 1)
const nodes = Number(values.nodes ?? 3)
const seconds = Number(values.seconds ?? 60)
const clients = Number(values.clients ?? 8)
let failures = 0
for (let seed = first; seed < first + runs; seed++) {
  const dir = mkdtempSync(join(tmpdir(), `raft-kv-jepsen-${seed}-`))
  const t = Date.now()
  const c = await KvCluster.start(dir, nodes, { snapshotThreshold: 300 })
  try {
    await c.settle()
    let done = false
    const work = runClients(c, { clients, keys: 8, rnd: prng(seed * 7 + 1), until: () => done })
    const nemesis = await chaos(c, seed, seconds * 1000)
    done = true
    const w = await work
    const v = await verify(c, w, 8, 600_000)
    const ok = v.linearizable === true && v.lostAppends.length === 0
    if (!ok) failures++
    console.log(JSON.stringify({ seed, nodes, seconds, ok, ...nemesis, restarts: c.members.reduce((n, m) => n + m.restarts, 0), opsOk: w.ok, failed: w.failed, unknown: w.unknown, ackedAppends: [...w.acked.values()].flat().length, linearizable: v.linearizable, lostAppends: v.lostAppends.slice(0, 10), wallSeconds: Math.round((Date.now() - t) / 1000) }))
  } finally {
    await c.stop()
    if (failures === 0) rmSync(dir, { recursive: true, force: true })
  }
}
console.log(JSON.stringify({ runs, failures }))
process.exit(failures === 0 ? 0 : 1)
