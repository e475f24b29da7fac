import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { compareScores, hammingDistance } from '../src/index.js'
import { matches, scoreOf } from '../src/ranking.js'
import { descriptorFor } from './fixtures.js'

const numRuns = Number(process.env.FC_NUM_RUNS ?? 300)
const caps = fc.array(fc.constantFrom('cuda', 'fp16', 'large-memory', 'fast-network', 'slow-network', 'ssd', 'arm64'), { maxLength: 7 })

/** The definition, literally: bit vectors over the sorted union, count differing positions. */
function referenceHamming (wanted: string[], offered: string[]): number {
  const union = [...new Set([...wanted, ...offered])].sort()
  const w = union.map((c) => wanted.includes(c))
  const o = union.map((c) => offered.includes(c))
  return w.reduce((n, bit, i) => n + (bit === o[i] ? 0 : 1), 0)
}

describe('hammingDistance', () => {
  it('matches the seed example made well-defined', () => {
    // the seed zips the two lists; over the union the differing network capability counts on both sides
    expect(hammingDistance(['cuda', 'fp16', 'large-memory', 'slow-network'], ['cuda', 'fp16', 'large-memory', 'fast-network'])).toBe(2)
    expect(hammingDistance([], [])).toBe(0)
    expect(hammingDistance(['a', 'a'], ['a'])).toBe(0)
  })

  it('equals the bit-vector definition and is a metric', () => {
    fc.assert(fc.property(caps, caps, caps, (a, b, c) => {
      expect(hammingDistance(a, b)).toBe(referenceHamming(a, b))
      expect(hammingDistance(a, b)).toBe(hammingDistance(b, a))
      expect(hammingDistance(a, b) === 0).toBe(new Set(a).size === new Set(b).size && a.every((x) => b.includes(x)))
      expect(hammingDistance(a, c)).toBeLessThanOrEqual(hammingDistance(a, b) + hammingDistance(b, c))
    }), { numRuns })
  })
})

describe('matching and scores', () => {
  const d = descriptorFor('p', {
    capabilities: ['cuda', 'ssd'],
    resources: { memoryGb: 32, gpu: true, cpuCores: 8 },
    accessPolicy: { maxConcurrentExecutions: 4 },
    load: { inFlight: 2, ewmaLatencyMs: 40 },
    sla: { availabilityPercent: 99.9 },
  })

  it('matches server and tool names', () => {
    expect(matches(d, { tool: 'read' })).toBe(true)
    expect(matches(d, { tool: 'write' })).toBe(false)
    expect(matches(d, { server: 'files', tool: 'read' })).toBe(true)
    expect(matches(d, { server: 'other', tool: 'read' })).toBe(false)
    expect(matches({ ...d, withdrawn: true }, { tool: 'read' })).toBe(false)
  })

  it('filters on hard requirements', () => {
    expect(matches(d, { requirements: { capabilities: ['cuda'] } })).toBe(true)
    expect(matches(d, { requirements: { capabilities: ['cuda', 'fp16'] } })).toBe(false)
    expect(matches(d, { requirements: { resources: { memoryGb: 32, gpu: true } } })).toBe(true)
    expect(matches(d, { requirements: { resources: { memoryGb: 64 } } })).toBe(false)
    expect(matches(d, { requirements: { resources: { diskGb: 1 } } })).toBe(false)
    expect(matches(d, { requirements: { maxInFlight: 1 } })).toBe(false)
    expect(matches(d, { requirements: { maxLatencyMs: 50, minAvailabilityPercent: 99 } })).toBe(true)
    expect(matches(d, { requirements: { maxLatencyMs: 10 } })).toBe(false)
    // wanted capabilities rank, they do not filter
    expect(matches(d, { capabilities: ['fp16'] })).toBe(true)
  })

  it('scores distance, then utilisation, then latency', () => {
    expect(scoreOf(d, { capabilities: ['cuda'] })).toEqual({ distance: 1, load: 0.5, latencyMs: 40 })
    const close = { distance: 0, load: 0.9, latencyMs: 100 }
    const far = { distance: 1, load: 0, latencyMs: 0 }
    expect(compareScores(close, far)).toBeLessThan(0)
    expect(compareScores({ distance: 0, load: 0.1, latencyMs: 100 }, { distance: 0, load: 0.2, latencyMs: 1 })).toBeLessThan(0)
    expect(compareScores({ distance: 0, load: 0.1, latencyMs: 5 }, { distance: 0, load: 0.1, latencyMs: 1 })).toBeGreaterThan(0)
  })
})
