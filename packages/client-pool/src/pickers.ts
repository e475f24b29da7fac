import { RING_VNODES_PER_WEIGHT } from './constants.js'
import { murmur3 } from './hash.js'
import type { BalancerName, EndpointLoad, PickContext, Picker } from './types.js'

/** Power of two choices: two distinct candidates at random, the lower score wins. */
function pickTwo (candidates: readonly EndpointLoad[], random: () => number, score: (e: EndpointLoad) => number): EndpointLoad | undefined {
  const n = candidates.length
  if (n <= 1) return candidates[0]
  const a = Math.floor(random() * n)
  let b = Math.floor(random() * (n - 1))
  if (b >= a) b++
  const ea = candidates[a]!
  const eb = candidates[b]!
  return score(eb) < score(ea) ? eb : ea
}

/**
 * Power of two choices scored by peak-EWMA latency × (in-flight + 1) (Finagle, Linkerd).
 * An endpoint that has not answered yet scores 0 while idle, so that it gets tried, and
 * very high while it has calls in flight, so that a cold endpoint is not flooded.
 */
export function peakEwmaPicker (): Picker {
  const score = (e: EndpointLoad): number => {
    const latency = e.latencyMs()
    if (latency === 0) return e.inFlight === 0 ? 0 : Number.MAX_SAFE_INTEGER
    return latency * (e.inFlight + 1)
  }
  return {
    pick: (candidates, context) => pickTwo(candidates, context.random, score),
  }
}

/**
 * Least outstanding requests (Envoy's least_request): power of two choices by in-flight
 * count, scaled by weight ((in-flight + 1) / weight) when weights differ.
 */
export function leastRequestPicker (): Picker {
  const score = (e: EndpointLoad): number => (e.inFlight + 1) / e.weight
  return {
    pick: (candidates, context) => pickTwo(candidates, context.random, score),
  }
}

/** Each candidate in turn. */
export function roundRobinPicker (): Picker {
  let next = 0
  return {
    pick (candidates) {
      const n = candidates.length
      if (n === 0) return undefined
      if (next >= n) next = 0
      return candidates[next++]
    },
  }
}

/**
 * Smooth weighted round-robin (nginx): every pick adds each candidate's weight to its
 * running credit and takes the candidate with the most credit, which then pays the total
 * weight. Picks are in proportion to weight and spread out (5:1:1 gives a a b a c a a, not
 * a a a a a b c).
 */
export function weightedRoundRobinPicker (): Picker {
  const credit = new Map<string, number>()
  return {
    pick (candidates) {
      let total = 0
      let best: EndpointLoad | undefined
      let bestCredit = -Infinity
      for (const e of candidates) {
        const c = (credit.get(e.id) ?? 0) + e.weight
        credit.set(e.id, c)
        total += e.weight
        if (c > bestCredit) { bestCredit = c; best = e }
      }
      if (best !== undefined) credit.set(best.id, bestCredit - total)
      return best
    },
    update (endpoints) {
      for (const id of [...credit.keys()]) if (!endpoints.some((e) => e.id === id)) credit.delete(id)
    },
  }
}

/**
 * Consistent hashing on a ring (Ketama): each endpoint owns weight × 160 points of a
 * 32-bit ring; a key goes to the owner of the first point at or after its hash that is
 * an eligible candidate. Adding one endpoint to N moves about 1/(N+1) of the keys, all to
 * the new one; an ineligible endpoint's keys go to their next owner on the ring and come
 * back when it returns. Calls without a key are spread by power of two choices on
 * in-flight count.
 */
export function ringHashPicker (): Picker {
  let points = new Uint32Array(0)
  let owners: string[] = []
  const fallback = leastRequestPicker()
  return {
    pick (candidates, context: PickContext) {
      if (context.key === undefined || points.length === 0) return fallback.pick(candidates, context)
      const h = murmur3(context.key)
      let lo = 0
      let hi = points.length
      while (lo < hi) {
        const mid = (lo + hi) >>> 1
        if (points[mid]! < h) lo = mid + 1
        else hi = mid
      }
      // Walk clockwise to the first point whose owner is a candidate; at most one lap.
      for (let step = 0; step < points.length; step++) {
        const owner = owners[(lo + step) % points.length]!
        for (const e of candidates) if (e.id === owner) return e
      }
      return undefined
    },
    update (endpoints) {
      const ring: Array<[number, string]> = []
      for (const e of endpoints) {
        const vnodes = Math.max(1, Math.round(e.weight * RING_VNODES_PER_WEIGHT))
        for (let i = 0; i < vnodes; i++) ring.push([murmur3(`${e.id}#${i}`), e.id])
      }
      // Ties (two endpoints on one point) are broken by id, so every peer builds the same ring.
      ring.sort((x, y) => x[0] - y[0] || (x[1] < y[1] ? -1 : x[1] > y[1] ? 1 : 0))
      points = Uint32Array.from(ring, (r) => r[0])
      owners = ring.map((r) => r[1])
    },
  }
}

/** The picker of a built-in balancer. */
export function createPicker (name: BalancerName): Picker {
  switch (name) {
    case 'peak-ewma': return peakEwmaPicker()
    case 'least-request': return leastRequestPicker()
    case 'round-robin': return roundRobinPicker()
    case 'weighted-round-robin': return weightedRoundRobinPicker()
    case 'ring-hash': return ringHashPicker()
  }
}

export const BALANCER_NAMES: readonly BalancerName[] = ['peak-ewma', 'least-request', 'round-robin', 'weighted-round-robin', 'ring-hash']
