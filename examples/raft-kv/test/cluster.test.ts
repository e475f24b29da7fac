import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, afterEach, describe, expect, it } from 'vitest'
import { chaos, KvCluster, prng, runClients, verify } from './harness.ts'

const root = mkdtempSync(join(tmpdir(), 'raft-kv-'))
afterAll(() => { rmSync(root, { recursive: true, force: true }) })
const SEED = Number(process.env.RAFT_KV_SEED ?? Date.now() % 100_000)

describe('raft-kv: processes, files, TCP, SIGKILL and partitions', () => {
  let cluster: KvCluster | undefined
  afterEach(async () => { await cluster?.stop() })

  for (const nodes of [3, 5]) {
    it(`${nodes} nodes: concurrent writers under kill -9 and partitions lose no acknowledged write (seed ${SEED + nodes})`, async () => {
      cluster = await KvCluster.start(join(root, `c${nodes}`), nodes, { snapshotThreshold: 200 })
      await cluster.settle()
      const seed = SEED + nodes
      let done = false
      const work = runClients(cluster, { clients: 6, keys: 6, rnd: prng(seed * 7 + 1), until: () => done })
      const nemesis = await chaos(cluster, seed, 14_000, 4)
      done = true
      const w = await work
      const verdict = await verify(cluster, w, 6)
      process.stdout.write(`raft-kv ${nodes} nodes seed ${seed}: ${JSON.stringify({ ...nemesis, ok: w.ok, failed: w.failed, unknown: w.unknown, linearizable: verdict.linearizable, lost: verdict.lostAppends.length })}\n`)
      expect(nemesis.kills + nemesis.partitions).toBeGreaterThanOrEqual(3)
      expect(nemesis.leaderKills).toBeGreaterThanOrEqual(1)
      expect(w.ok).toBeGreaterThan(50)
      expect([...w.acked.values()].flat().length).toBeGreaterThan(10)
      expect(verdict.lostAppends).toEqual([])
      expect(verdict.linearizable).toBe(true)
    }, 120_000)
  }
})
