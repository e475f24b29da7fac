import { readFileSync } from 'node:fs'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { ClockHashMismatchError, InvalidClockJsonError, InvalidCounterError, InvalidNodeIdError, VectorClock } from '../src/index.js'
import * as dagCbor from '@ipld/dag-cbor'
import { encodeCanonicalPairs } from '../src/canonical.js'
import { pythonJsonEntries } from '../src/python-json.js'

const NUM_RUNS = Number(process.env.FC_NUM_RUNS ?? 300)

interface GoldenCase {
  name: string
  node_id: string
  entries: Array<[string, number]>
  python_json: string
  python_json_hash: string
  canonical_hash: string
}
const golden = JSON.parse(readFileSync(new URL('golden/python-json-vectors.json', import.meta.url), 'utf8')) as { cases: GoldenCase[] }

// Ids drawn from ASCII, quotes, controls, BMP above U+E000 and astral characters.
const idArb = fc.string({ unit: fc.constantFrom('a', 'b', 'c', '"', '\\', '\n', 'é', '\uE000', '\uFFFF', '😀', '𠀀'), maxLength: 4 })
const vectorArb = fc.array(fc.tuple(idArb, fc.nat({ max: 5 })), { maxLength: 8 })
const clockArb = fc.tuple(idArb, vectorArb).map(([id, v]) => new VectorClock(id, v))

describe('VectorClock basics (seed API)', () => {
  it('starts with its own entry at 0 and ticks it', () => {
    const c = new VectorClock('node-123')
    expect(c.entries()).toEqual([['node-123', 0]])
    expect(c.tick()).toBe(c)
    expect(c.get('node-123')).toBe(1)
    expect(c.get('unknown')).toBe(0)
  })

  it('merge is a pointwise max without a tick; update ticks after it', () => {
    const a = new VectorClock('A', { A: 2, B: 1 })
    const b = new VectorClock('B', [['B', 3], ['C', 1]])
    expect(a.clone().merge(b).entries()).toEqual([['A', 2], ['B', 3], ['C', 1]])
    expect(a.update(b).entries()).toEqual([['A', 3], ['B', 3], ['C', 1]])
  })

  it('compare is -1/1 for before/after and 0 for both equal and concurrent, as in the seed', () => {
    const a = new VectorClock('A').tick()
    const b = a.clone().merge(new VectorClock('B').tick())
    const c = new VectorClock('C').tick()
    expect([a.compare(b), b.compare(a), a.compare(a.clone()), a.compare(c)]).toEqual([-1, 1, 0, 0])
    expect([a.order(b), b.order(a), a.order(a.clone()), a.order(c)]).toEqual(['before', 'after', 'equal', 'concurrent'])
  })

  it('zero entries change the python-json hash but not the canonical hash or the order', () => {
    const a = new VectorClock('A', { A: 1, B: 2 })
    const b = new VectorClock('A', { A: 1, B: 2, C: 0 })
    expect(a.order(b)).toBe('equal')
    expect(a.hash()).toBe(b.hash())
    expect(a.hash({ encoding: 'python-json' })).not.toBe(b.hash({ encoding: 'python-json' }))
  })

  it('refuses bad ids and counters with typed errors', () => {
    expect(() => new VectorClock('\uD800x')).toThrow(InvalidNodeIdError)
    expect(() => new VectorClock(42 as unknown as string)).toThrow(InvalidNodeIdError)
    expect(() => new VectorClock('A', { B: -1 })).toThrow(InvalidCounterError)
    expect(() => new VectorClock('A', { B: 1.5 })).toThrow(InvalidCounterError)
    expect(() => new VectorClock('A', { A: Number.MAX_SAFE_INTEGER }).tick()).toThrow(InvalidCounterError)
    expect(() => new VectorClock('A').hash({ encoding: 'utf16' as 'canonical' })).toThrow(/encoding/)
  })

  it('caches hashes and forgets them on change', () => {
    const c = new VectorClock('A')
    const h0 = c.hash()
    expect(c.hash()).toBe(h0)
    c.tick()
    expect(c.hash()).not.toBe(h0)
    const p0 = c.hash({ encoding: 'python-json' })
    c.merge(new VectorClock('B'))
    expect(c.hash({ encoding: 'python-json' })).not.toBe(p0) // a zero entry was merged in
  })
})

describe('python-json interoperability (golden vectors from Python)', () => {
  it('has the golden cases', () => {
    expect(golden.cases.length).toBeGreaterThanOrEqual(19)
  })

  for (const g of golden.cases) {
    it(`matches Python on "${g.name}"`, () => {
      const clock = new VectorClock(g.node_id, g.entries)
      expect(pythonJsonEntries(clock.entries())).toBe(g.python_json)
      expect(clock.hash({ encoding: 'python-json' })).toBe(g.python_json_hash)
      expect(clock.hash()).toBe(g.canonical_hash)
      // Insertion order does not matter.
      const reversed = new VectorClock(g.node_id, [...g.entries].reverse())
      expect(reversed.hash({ encoding: 'python-json' })).toBe(g.python_json_hash)
    })
  }
})

describe('JSON form', () => {
  it('round-trips and carries both hashes', () => {
    const c = new VectorClock('A', [['A', 3], ['B', 0], ['__proto__', 2], ['é"', 1]])
    const json = c.toJSON()
    expect(json.merkle_root).toBe(c.hash({ encoding: 'python-json' }))
    expect(json.hash).toBe(c.hash())
    const back = VectorClock.fromJSON(JSON.stringify(json))
    expect(back.entries()).toEqual(c.entries())
    expect(back.nodeId).toBe('A')
    expect(back.get('__proto__')).toBe(2)
  })

  it('refuses a forged hash or merkle_root', () => {
    const json = new VectorClock('A', { A: 3, B: 1 }).toJSON()
    const forged = { ...json, vector: { ...json.vector, B: 9 } }
    expect(() => VectorClock.fromJSON(forged)).toThrow(ClockHashMismatchError)
    expect(() => VectorClock.fromJSON({ ...forged, hash: undefined })).toThrow(/merkle_root/)
    expect(() => VectorClock.fromJSON({ ...json, hash: '0'.repeat(64) })).toThrow(ClockHashMismatchError)
  })

  it('accepts a seed to_dict() whose merkle_root is the seed hash', () => {
    const g = golden.cases.find((c) => c.name === 'two peers')!
    const seedDict = { node_id: g.node_id, vector: Object.fromEntries(g.entries), merkle_root: g.python_json_hash }
    expect(VectorClock.fromJSON(seedDict).entries()).toEqual([['peerA', 1], ['peerB', 2]])
  })

  it('enforces its limits and shape with InvalidClockJsonError', () => {
    const json = JSON.stringify(new VectorClock('A', { B: 1, C: 1 }).toJSON())
    expect(() => VectorClock.fromJSON(json, { maxEntries: 2 })).toThrow(/maxEntries/)
    expect(() => VectorClock.fromJSON(json, { maxBytes: 10 })).toThrow(/maxBytes/)
    for (const bad of ['{', '[]', 'null', '{"node_id":1}', '{"node_id":"a","vector":[]}', '{"node_id":"a","vector":{}}',
      '{"node_id":"a","vector":{"b":-1},"hash":"x"}', '{"node_id":"\\ud800","vector":{},"hash":"x"}']) {
      expect(() => VectorClock.fromJSON(bad), bad).toThrow(InvalidClockJsonError)
    }
  })

  it('fuzz: any input gives a clock or a typed error', () => {
    const valid = new VectorClock('A', { A: 1, B: 2 }).toJSON()
    const typed = new Set(['InvalidClockJsonError', 'ClockHashMismatchError'])
    fc.assert(fc.property(fc.oneof(
      fc.string(),
      fc.json(),
      fc.anything(),
      fc.record({ node_id: fc.oneof(fc.string(), fc.anything()), vector: fc.dictionary(fc.string(), fc.oneof(fc.nat(), fc.anything())), hash: fc.string() }),
      fc.constantFrom(...Object.keys(valid)).chain((k) => fc.anything().map((v) => ({ ...valid, [k]: v }))),
    ), (input) => {
      try {
        VectorClock.fromJSON(input)
      } catch (err) {
        expect(typed.has((err as Error).name), String(err)).toBe(true)
      }
    }), { numRuns: NUM_RUNS * 3 })
  })
})

describe('canonical encoding', () => {
  it('is byte for byte what @ipld/dag-cbor writes', () => {
    const pairArb = fc.tuple(fc.string({ unit: fc.constantFrom('a', 'é', '中', '😀', '\u0000', '"'), maxLength: 120 }),
      fc.oneof(fc.nat({ max: 30 }), fc.nat(), fc.maxSafeNat(), fc.constantFrom(23, 24, 255, 256, 65535, 65536, 2 ** 32 - 1, 2 ** 32)))
    fc.assert(fc.property(fc.array(pairArb, { maxLength: 20 }), (pairs) => {
      expect(Buffer.from(encodeCanonicalPairs(pairs)).toString('hex')).toBe(Buffer.from(dagCbor.encode(pairs)).toString('hex'))
    }), { numRuns: NUM_RUNS * 3 })
  })
})

describe('VectorClock properties', () => {
  const runs = { numRuns: NUM_RUNS }
  const same = (x: VectorClock, y: VectorClock): void => {
    expect(x.order(y)).toBe('equal')
    expect(x.hash()).toBe(y.hash())
  }

  it('merge is commutative, associative and idempotent', () => {
    fc.assert(fc.property(clockArb, clockArb, clockArb, (a, b, c) => {
      same(a.clone().merge(b), b.clone().merge(a))
      same(a.clone().merge(b).merge(c), a.clone().merge(b.clone().merge(c)))
      same(a.clone().merge(a), a)
      // and an upper bound of both
      const ab = a.clone().merge(b)
      expect(['after', 'equal']).toContain(ab.order(a))
      expect(['after', 'equal']).toContain(ab.order(b))
    }), runs)
  })

  it('tick strictly advances; update is merge then tick and is not idempotent', () => {
    fc.assert(fc.property(clockArb, clockArb, (a, b) => {
      expect(a.clone().tick().order(a)).toBe('after')
      expect(a.order(a.clone().tick())).toBe('before')
      const u = a.clone().update(b)
      same(u, a.clone().merge(b).tick())
      expect(u.clone().update(b).order(u)).toBe('after')
    }), runs)
  })

  it('happened-before is transitive and antisymmetric; order(b, a) mirrors order(a, b)', () => {
    const mirror = { before: 'after', after: 'before', equal: 'equal', concurrent: 'concurrent' } as const
    fc.assert(fc.property(clockArb, clockArb, clockArb, (a, b, c) => {
      expect(b.order(a)).toBe(mirror[a.order(b)])
      if (a.order(b) === 'before') expect(b.order(a)).not.toBe('before')
      // a chain built by merging is ordered, so transitivity is exercised on every run
      const b2 = b.clone().merge(a).tick()
      const c2 = c.clone().merge(b2).tick()
      expect(a.order(b2)).toBe('before')
      expect(b2.order(c2)).toBe('before')
      expect(a.order(c2)).toBe('before')
      if (a.order(b) === 'before' && b.order(c) === 'before') expect(a.order(c)).toBe('before')
    }), runs)
  })

  it('equal clocks hash equally whatever the insertion order and zero entries', () => {
    fc.assert(fc.property(idArb, vectorArb, fc.array(idArb, { maxLength: 3 }), (id, v, zeros) => {
      const a = new VectorClock(id, v)
      const shuffled = new VectorClock(id, [...v].reverse().concat(zeros.map((z) => [z, 0] as [string, number])))
      same(a, shuffled)
      if (zeros.every((z) => a.size > 0 && a.entries().some(([k]) => k === z))) {
        expect(shuffled.hash({ encoding: 'python-json' })).toBe(a.hash({ encoding: 'python-json' }))
      }
    }), runs)
  })

  it('replicas that gossip clocks with merge over a lossy, duplicating, reordering channel converge', () => {
    fc.assert(fc.property(fc.integer({ min: 2, max: 5 }), fc.array(fc.tuple(fc.nat(), fc.nat(), fc.nat({ max: 9 })), { maxLength: 60 }),
      (n, steps) => {
        const clocks = Array.from({ length: n }, (_, i) => new VectorClock(`p${i}`))
        const inFlight: Array<{ to: number, clock: VectorClock }> = []
        for (const [x, y, r] of steps) {
          const i = x % n
          if (r < 3) clocks[i]!.tick()
          else if (r < 7) {
            const msg = { to: y % n, clock: clocks[i]!.clone() }
            inFlight.push(msg)
            if (r === 6) inFlight.push(msg) // duplicate
          } else if (inFlight.length > 0) {
            const [msg] = inFlight.splice(y % inFlight.length, 1) // reorder
            if (r !== 9) clocks[msg!.to]!.merge(msg!.clock) // r === 9: lost
          }
        }
        // Eventual delivery: a reliable all-to-all round.
        for (const a of clocks) for (const b of clocks) b.merge(a)
        for (const c of clocks) expect(c.hash()).toBe(clocks[0]!.hash())
      }), runs)
  })
})
