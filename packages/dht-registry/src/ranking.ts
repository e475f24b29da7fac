import type { Descriptor, FindQuery, ProviderScore, Requirements } from './types.js'

/**
 * Hamming distance between two capability sets taken as bit vectors over their sorted union:
 * the number of capabilities in exactly one of the two sets. Duplicates count once.
 */
export function hammingDistance (wanted: readonly string[], offered: readonly string[]): number {
  const w = new Set(wanted)
  const o = new Set(offered)
  let distance = 0
  for (const c of w) if (!o.has(c)) distance++
  for (const c of o) if (!w.has(c)) distance++
  return distance
}

function meetsRequirements (d: Descriptor, r: Requirements): boolean {
  if (r.capabilities !== undefined && r.capabilities.length > 0) {
    const offered = new Set(d.capabilities)
    for (const c of r.capabilities) if (!offered.has(c)) return false
  }
  const res = r.resources
  if (res !== undefined) {
    const have = d.resources ?? {}
    for (const key of ['cpuCores', 'memoryGb', 'gpuMemoryGb', 'diskGb', 'bandwidthMbps'] as const) {
      const need = res[key]
      if (need !== undefined && (have[key] ?? 0) < need) return false
    }
    if (res.gpu === true && have.gpu !== true) return false
  }
  if (r.maxInFlight !== undefined && d.load.inFlight > r.maxInFlight) return false
  if (r.maxLatencyMs !== undefined && d.load.ewmaLatencyMs > r.maxLatencyMs) return false
  if (r.minAvailabilityPercent !== undefined && (d.sla?.availabilityPercent ?? 0) < r.minAvailabilityPercent) return false
  return true
}

/** Whether a descriptor hosts what the query names and meets its hard requirements. */
export function matches (d: Descriptor, q: FindQuery): boolean {
  if (d.withdrawn === true) return false
  if (q.server !== undefined || q.tool !== undefined) {
    const hosts = d.servers.some((s) => (q.server === undefined || s.name === q.server) &&
      (q.tool === undefined || s.tools.some((t) => t.name === q.tool)))
    if (!hosts) return false
  }
  return q.requirements === undefined || meetsRequirements(d, q.requirements)
}

/** The score of a matching descriptor; see {@link compareScores} for the order. */
export function scoreOf (d: Descriptor, q: FindQuery): ProviderScore {
  const max = d.accessPolicy?.maxConcurrentExecutions
  return {
    distance: q.capabilities === undefined ? 0 : hammingDistance(q.capabilities, d.capabilities),
    load: max !== undefined && max > 0 ? d.load.inFlight / max : d.load.inFlight,
    latencyMs: d.load.ewmaLatencyMs,
  }
}

/** Capability distance first, then load, then latency; lower is better. */
export function compareScores (a: ProviderScore, b: ProviderScore): number {
  return (a.distance - b.distance) || (a.load - b.load) || (a.latencyMs - b.latencyMs)
}
