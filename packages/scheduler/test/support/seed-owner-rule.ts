// A port of the seed's real owner rule (IPFS Accelerate p2p_workflow_scheduler.py, read and
// measured in ../shared/notes/mcp-gateways.md): each peer keeps a "Merkle clock" (a vector
// clock whose update() always ticks, hashed as Python's json.dumps(sorted(items))), and a
// peer owns a task when it minimises hamming(sha256(f"{clock_hash}:{task_hash}"),
// sha256(peer_id)) over the peers it knows (ties: first in insertion order). Peers' clocks
// never converge, so peers disagree about owners. Run on the same seeds as the replicated
// scheduler: the same number of executors, the same 300 tasks, the same kind of loss and churn.
import { createHash } from 'node:crypto'
import { mulberry } from './sim-workload.ts'

class SeedClock {
  readonly vector = new Map<string, number>()
  readonly nodeId: string
  constructor (nodeId: string) { this.nodeId = nodeId; this.vector.set(nodeId, 0) }
  tick (): void { this.vector.set(this.nodeId, this.vector.get(this.nodeId)! + 1) }
  update (other: SeedClock): void {
    for (const [k, v] of other.vector) this.vector.set(k, Math.max(this.vector.get(k) ?? 0, v))
    this.tick()
  }

  /** sha256 of json.dumps(sorted(vector.items())): `[["a", 1], ["b", 2]]` (ASCII ids here). */
  hash (): string {
    const items = [...this.vector].sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0))
    return sha256hex('[' + items.map(([k, v]) => `[${JSON.stringify(k)}, ${v}]`).join(', ') + ']')
  }
}

function sha256hex (s: string): string { return createHash('sha256').update(s).digest('hex') }
function sha256 (s: string): Buffer { return createHash('sha256').update(s).digest() }

function hamming (a: Buffer, b: Buffer): number {
  let d = 0
  for (let i = 0; i < a.length; i++) { let x = a[i]! ^ b[i]!; while (x !== 0) { d += x & 1; x >>= 1 } }
  return d
}

/** The seed's `determine_task_owner`. */
export function seedOwner (clockHash: string, taskHash: string, peers: readonly string[]): string {
  const h = sha256(`${clockHash}:${taskHash}`)
  let best = peers[0]!, bestD = Infinity
  for (const p of peers) {
    const d = hamming(h, sha256(p))
    if (d < bestD) { best = p; bestD = d }
  }
  return best
}

export interface SeedRuleReport {
  seed: number
  tasks: number
  /** Tasks on whose owner every peer that saw the task agreed. */
  agreed: number
  agreementRate: number
  lost: number
  duplicated: number
  ranOnce: number
}

/**
 * Peers receive every task (broadcast, with loss), tick on each event, gossip clocks to a random
 * peer (with loss; update() ticks), crash and come back; a peer runs a task it computes as its own,
 * or one whose computed owner it has not heard from for `staleUnits` (the seed's stale rule).
 */
export function runSeedOwnerRule (seed: number, nPeers: number, taskIds: readonly string[], options: { pDrop?: number, pCrash?: number, staleUnits?: number } = {}): SeedRuleReport {
  const rng = mulberry(seed ^ 0x0dd5eed)
  const pDrop = options.pDrop ?? rng() * 0.15
  const pCrash = options.pCrash ?? 0.004
  const stale = options.staleUnits ?? 60
  const peers = Array.from({ length: nPeers }, (_, i) => `e${i + 1}`)
  const clocks = new Map(peers.map(p => [p, new SeedClock(p)]))
  const alive = new Map(peers.map(p => [p, true]))
  const downUntil = new Map(peers.map(p => [p, 0]))
  const lastSeen = new Map(peers.map(p => [p, new Map(peers.map(q => [q, 0]))]))
  const owners = new Map<string, Set<string>>()
  const runs = new Map<string, number>()
  let time = 0
  for (const id of taskIds) {
    time++
    // Churn and gossip between task arrivals.
    for (const p of peers) {
      if (alive.get(p)! && rng() < pCrash) { alive.set(p, false); downUntil.set(p, time + Math.floor(rng() * 40)) } else if (!alive.get(p)! && time >= downUntil.get(p)!) alive.set(p, true)
      if (!alive.get(p)!) continue
      const q = peers[Math.floor(rng() * peers.length)]!
      if (q !== p && alive.get(q)! && rng() >= pDrop) { clocks.get(q)!.update(clocks.get(p)!); lastSeen.get(q)!.set(p, time) }
    }
    const taskHash = sha256hex(id)
    const seen = new Set<string>()
    for (const p of peers) {
      if (!alive.get(p)! || rng() < pDrop) continue
      const clock = clocks.get(p)!
      clock.tick()
      const owner = seedOwner(clock.hash(), taskHash, peers)
      seen.add(owner)
      const ownerStale = owner !== p && time - lastSeen.get(p)!.get(owner)! > stale
      if (owner === p || ownerStale) runs.set(id, (runs.get(id) ?? 0) + 1)
    }
    owners.set(id, seen)
  }
  let agreed = 0, lost = 0, duplicated = 0, once = 0
  for (const id of taskIds) {
    if (owners.get(id)!.size === 1) agreed++
    const r = runs.get(id) ?? 0
    if (r === 0) lost++; else if (r === 1) once++; else duplicated++
  }
  return { seed, tasks: taskIds.length, agreed, agreementRate: agreed / taskIds.length, lost, duplicated, ranOnce: once }
}
