import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, afterEach, describe, expect, it } from 'vitest'
import { KvCluster, prng, runClients, verify } from './harness.ts'

const root = mkdtempSync(join(tmpdir(), 'raft-kv-'))
afterAll(() => { rmSync(root, { recursive: true, force: true }) })
const SEED = Number(process.env.RAFT_KV_SEED ?? Date.now() % 100_000)

async function sleep (ms: number): Promise<void> { await new Promise(resolve => setTimeout(resolve, ms)) }

/**
 * One run: clients write for `ms` while the nemesis SIGKILLs members (the leader first, then
 * random ones) and restarts them, and isolates members with the connection gater; then heal,
 * settle and check the whole history.
 */
async function chaos (c: KvCluster, seed: number, ms: number): Promise<{ kills: number, partitions: number, leaderKills: number }> {
  const rnd = prng(seed)
  const stats = { kills: 0, partitions: 0, leaderKills: 0 }
  const end = Date.now() + ms
  const minority = Math.floor(c.members.length / 2)
  while (Date.now() < end - 1_500) {
    await sleep(600 + rnd() * 900)
    const r = rnd()
    const leader = await c.leader()
    if (r < 0.6) {
      // SIGKILL the leader half of the time (always the first time), else a random member.
      const victim = stats.kills === 0 || rnd() < 0.5 ? (leader ?? c.members[0]!) : c.members[Math.floor(rnd() * c.members.length)]!
      if (c.members.length - c.alive().length >= minority) continue
      if (victim === leader) stats.leaderKills++
      stats.kills++
      await c.kill(victim)
      await sleep(300 + rnd() * 1_200)
      await c.restart(victim)
    } else {
      const victim = rnd() < 0.5 && leader !== undefined ? leader : c.members[Math.floor(rnd() * c.members.length)]!
      stats.partitions++
      await c.isolate(victim)
      await sleep(500 + rnd() * 1_500)
      await c.heal()
    }
  }
  return stats
}

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
      const nemesis = await chaos(cluster, seed, 14_000)
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
