/**
 * A seeded, discrete-event model of the registry's gossip (gossipsub eager push over a sparse
 * random mesh, flood publish, per-link loss, IHAVE/IWANT repair, anti-entropy) and of its
 * Kademlia DHT lookups. Deterministic: a seed replays a run. Used by `run.ts`.
 */
import { mulberry32 } from '@p2p-mcp/testkit/random'

export interface Topology {
  n: number
  /** Connections of each peer (undirected). */
  links: number[][]
  /** Gossip mesh of each peer: its connections, at most dHi of them. */
  mesh: number[][]
}

/** Each peer i > 0 dials `dials` random earlier peers (the harness's topology), mesh capped at dHi. */
export function buildTopology (n: number, dials: number, dHi: number, seed: number): Topology {
  const random = mulberry32(seed)
  const sets: Array<Set<number>> = Array.from({ length: n }, () => new Set())
  for (let i = 1; i < n; i++) {
    sets[i]!.add(i - 1)
    sets[i - 1]!.add(i)
    while (sets[i]!.size < Math.min(dials, i)) {
      const j = Math.floor(random() * i)
      sets[i]!.add(j)
      sets[j]!.add(i)
    }
  }
  const links = sets.map((s) => [...s])
  const mesh = links.map((l) => {
    const copy = [...l]
    for (let i = copy.length - 1; i > 0; i--) {
      const j = Math.floor(random() * (i + 1))
      ;[copy[i], copy[j]] = [copy[j]!, copy[i]!]
    }
    return copy.slice(0, dHi)
  })
  return { n, links, mesh }
}

/** A binary min-heap of [time, payload]. */
class EventQueue<T> {
  private readonly items: Array<[number, T]> = []
  get size (): number { return this.items.length }
  push (t: number, v: T): void {
    const a = this.items
    a.push([t, v])
    let i = a.length - 1
    while (i > 0) {
      const p = (i - 1) >> 1
      if (a[p]![0] <= a[i]![0]) break
      ;[a[p], a[i]] = [a[i]!, a[p]!]
      i = p
    }
  }

  pop (): [number, T] | undefined {
    const a = this.items
    const top = a[0]
    const last = a.pop()
    if (top === undefined || last === undefined || a.length === 0) return top
    a[0] = last
    let i = 0
    for (;;) {
      const l = 2 * i + 1
      const r = l + 1
      let m = i
      if (l < a.length && a[l]![0] < a[m]![0]) m = l
      if (r < a.length && a[r]![0] < a[m]![0]) m = r
      if (m === i) break
      ;[a[m], a[i]] = [a[i]!, a[m]!]
      i = m
    }
    return top
  }
}

export interface GossipParams {
  /** Median one-way latency of a hop, including the receiver's processing, ms. */
  hopMs: number
  /** Spread of the hop latency (lognormal sigma). */
  hopSigma: number
  /** Probability that one transmission is lost (a dropped stream, a full queue). */
  loss: number
  /** Gossipsub heartbeat: IHAVE is sent this often, ms. */
  gossipHeartbeatMs: number
  /** How many gossipsub heartbeats a message id is advertised in IHAVE. */
  mcacheGossip: number
  /** Peers IHAVE goes to per heartbeat: Dlazy non-mesh connections. */
  dLazy: number
  /** Anti-entropy period (0: off), ms. */
  antiEntropyMs: number
  /** Re-announcements after a publish, ms after it. */
  reannounceMs: number[]
}

export interface PublishResult {
  /** Time until every peer had the message, ms (Infinity if some never did within the horizon). */
  allMs: number
  /** Arrival time per peer (publisher excluded). */
  arrivals: number[]
  /** Largest number of eager-push hops on a first arrival. */
  hops: number
  /** Transmissions of the full message (eager push, flood publish, IWANT answers, re-announcements). */
  transmissions: number
  /** Peers reached only by IHAVE/IWANT, by anti-entropy, by a re-announcement. */
  repairedByIwant: number
  repairedByAntiEntropy: number
  repairedByReannounce: number
}

/**
 * One publish from `origin`: flood publish to all connections, eager push along the mesh,
 * independent loss per transmission, IHAVE/IWANT from peers that have it to connections that
 * do not, anti-entropy rounds (a random connection, the whole set on a difference), and the
 * re-announcements, each a fresh message.
 */
export function simulatePublish (topo: Topology, origin: number, p: GossipParams, seed: number, horizonMs = 10_000): PublishResult {
  const random = mulberry32(seed)
  const latency = (): number => p.hopMs * Math.exp(p.hopSigma * gaussian(random))
  const n = topo.n
  const arrival = new Float64Array(n).fill(Number.POSITIVE_INFINITY)
  const hops = new Int32Array(n)
  const via = new Uint8Array(n) // 0 eager, 1 iwant, 2 anti-entropy, 3 re-announce
  const seen = new Uint8Array(n) // per message copy (0 = original, bit per re-announcement)
  type Ev = { to: number, from: number, hop: number, kind: 0 | 1 | 2 | 3, copy: number }
  const q = new EventQueue<Ev>()
  let transmissions = 0
  const send = (t: number, from: number, to: number, hop: number, kind: Ev['kind'], copy: number): void => {
    transmissions++
    if (kind === 0 && random() < p.loss) return
    q.push(t + latency(), { to, from, hop, kind, copy })
  }
  const copies = [0, ...p.reannounceMs]
  arrival[origin] = 0
  for (const [c, at] of copies.entries()) {
    if (at > horizonMs) continue
    // flood publish: the publisher sends each copy to every connection
    for (const to of topo.links[origin]!) send(at, origin, to, 1, 0, c)
  }
  // periodic repair processes, as events on a coarse clock
  const ticks: Array<[number, 'ihave' | 'ae', number]> = []
  for (let v = 0; v < n; v++) {
    const phase = random()
    for (let t = phase * p.gossipHeartbeatMs; t < horizonMs; t += p.gossipHeartbeatMs) ticks.push([t, 'ihave', v])
    if (p.antiEntropyMs > 0) for (let t = random() * p.antiEntropyMs; t < horizonMs; t += p.antiEntropyMs) ticks.push([t, 'ae', v])
  }
  ticks.sort((a, b) => a[0] - b[0])
  let tick = 0
  const firstSeenAt = new Float64Array(n).fill(Number.POSITIVE_INFINITY)
  firstSeenAt[origin] = 0
  const runTicksUntil = (t: number): void => {
    while (tick < ticks.length && ticks[tick]![0] <= t) {
      const [at, what, v] = ticks[tick++]!
      if (what === 'ihave') {
        // v advertises the message to Dlazy random connections while it is in its gossip window
        if (!(firstSeenAt[v]! <= at && at - firstSeenAt[v]! <= p.mcacheGossip * p.gossipHeartbeatMs)) continue
        const links = topo.links[v]!
        for (let k = 0; k < Math.min(p.dLazy, links.length); k++) {
          const u = links[Math.floor(random() * links.length)]!
          // IHAVE then IWANT: two hops of control messages, then the message
          if (!Number.isFinite(arrival[u]!)) send(at + 2 * latency(), v, u, hops[v]! + 1, 1, 0)
        }
      } else if (!Number.isFinite(arrival[v]!)) {
        const links = topo.links[v]!
        const u = links[Math.floor(random() * links.length)]!
        if (firstSeenAt[u]! <= at) send(at + latency(), u, v, hops[u]! + 1, 2, 0)
      }
    }
  }
  for (;;) {
    const next = q.pop()
    if (next === undefined) break
    const [t, ev] = next
    if (t > horizonMs) break
    runTicksUntil(t)
    if ((seen[ev.to]! & (1 << ev.copy)) !== 0) continue
    seen[ev.to]! |= 1 << ev.copy
    if (Number.isFinite(arrival[ev.to]!) && ev.to !== origin) {
      // a later copy: forwarded all the same (each re-announcement is its own message)
    } else if (ev.to !== origin) {
      arrival[ev.to] = t
      firstSeenAt[ev.to] = t
      hops[ev.to] = ev.hop
      via[ev.to] = ev.copy > 0 ? 3 : ev.kind
    }
    if (ev.to === origin) continue
    for (const to of topo.mesh[ev.to]!) if (to !== ev.from) send(t, ev.to, to, ev.hop + 1, 0, ev.copy)
    if (q.size === 0) runTicksUntil(horizonMs)
  }
  const arrivals: number[] = []
  let maxHops = 0
  let byIwant = 0
  let byAe = 0
  let byRe = 0
  for (let v = 0; v < n; v++) {
    if (v === origin) continue
    arrivals.push(arrival[v]!)
    if (Number.isFinite(arrival[v]!)) maxHops = Math.max(maxHops, hops[v]!)
    if (via[v] === 1) byIwant++
    else if (via[v] === 2) byAe++
    else if (via[v] === 3) byRe++
  }
  return {
    allMs: Math.max(...arrivals),
    arrivals,
    hops: maxHops,
    transmissions,
    repairedByIwant: byIwant,
    repairedByAntiEntropy: byAe,
    repairedByReannounce: byRe,
  }
}

function gaussian (random: () => number): number {
  const u = Math.max(random(), 1e-12)
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * random())
}

/** Kademlia: 32-bit ids (enough to order 10^4 peers), k-buckets of size k, lookups with parallelism alpha. */
export interface DhtResult {
  /** Rounds of alpha parallel queries until the k closest were all queried. */
  rounds: number
  /** Rounds until the closest peer to the key was first named (the path length of the lookup). */
  hops: number
  /** FIND_NODE / GET_PROVIDERS messages sent. */
  messages: number
  /** Whether the true closest peer was found. */
  exact: boolean
}

export function buildDht (n: number, k: number, seed: number): { ids: Uint32Array, tables: number[][] } {
  const random = mulberry32(seed)
  const ids = new Uint32Array(n)
  for (let i = 0; i < n; i++) ids[i] = Math.floor(random() * 2 ** 32)
  const tables: number[][] = []
  for (let i = 0; i < n; i++) {
    const buckets: number[][] = Array.from({ length: 33 }, () => [])
    // peers are met in random order (as connections and lookups bring them); a full bucket keeps its old entries
    const start = Math.floor(random() * n)
    for (let s = 0; s < n; s++) {
      const j = (start + s) % n
      if (j === i) continue
      const b = Math.clz32((ids[i]! ^ ids[j]!) >>> 0)
      if (buckets[b]!.length < k) buckets[b]!.push(j)
    }
    tables.push(buckets.flat())
  }
  return { ids, tables }
}

export function simulateLookup (dht: { ids: Uint32Array, tables: number[][] }, from: number, key: number, k: number, alpha: number): DhtResult {
  const dist = (j: number): number => (dht.ids[j]! ^ key) >>> 0
  let best = 0
  for (let j = 1; j < dht.ids.length; j++) if (dist(j) < dist(best)) best = j
  const known = new Map<number, boolean>() // peer -> queried
  for (const j of dht.tables[from]!) known.set(j, false)
  let messages = 0
  let rounds = 0
  let hops = known.has(best) || best === from ? 0 : -1
  for (;;) {
    const closest = [...known.keys()].sort((a, b) => dist(a) - dist(b)).slice(0, k)
    const pending = closest.filter((j) => known.get(j) === false).slice(0, alpha)
    if (pending.length === 0) break
    rounds++
    for (const j of pending) {
      known.set(j, true)
      messages++
      const answer = [...dht.tables[j]!].sort((a, b) => dist(a) - dist(b)).slice(0, k)
      for (const c of answer) if (!known.has(c) && c !== from) known.set(c, false)
    }
    if (hops < 0 && known.has(best)) hops = rounds
  }
  return { rounds, hops: Math.max(hops, 0), messages, exact: hops >= 0 }
}
