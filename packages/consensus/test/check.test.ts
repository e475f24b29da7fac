import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { kvModel } from '../src/check/kv-model.js'
import type { KvInput, KvOperation, KvOutput } from '../src/check/kv-model.js'
import { checkLinearizability } from '../src/check/linearizability.js'

const op = (client: number, input: KvInput, call: number, output: KvOutput | undefined, ret: number): KvOperation =>
  ({ client, input, call, output, return: ret })
const check = (h: KvOperation[]): true | false | 'unknown' => checkLinearizability(kvModel, h).ok

describe('linearizability checker: hand-written histories', () => {
  it('accepts a sequential history and concurrent reads that see either value', () => {
    expect(check([
      op(1, { op: 'put', key: 'x', value: 'a' }, 0, {}, 1),
      op(1, { op: 'get', key: 'x' }, 2, { value: 'a' }, 3),
      op(1, { op: 'append', key: 'x', value: 'b' }, 4, {}, 5),
      op(1, { op: 'get', key: 'x' }, 6, { value: 'ab' }, 7),
      op(1, { op: 'cas', key: 'x', expected: 'ab', value: 'c' }, 8, { ok: true }, 9),
      op(1, { op: 'cas', key: 'x', expected: 'ab', value: 'd' }, 10, { ok: false }, 11),
      op(1, { op: 'get', key: 'y' }, 12, { value: undefined }, 13)
    ])).toBe(true)
    // A read overlapping a write may see the old or the new value.
    for (const seen of [undefined, 'a']) {
      expect(check([
        op(1, { op: 'put', key: 'x', value: 'a' }, 0, {}, 10),
        op(2, { op: 'get', key: 'x' }, 5, { value: seen }, 6)
      ])).toBe(true)
    }
  })

  it('rejects a stale read after a completed write', () => {
    expect(check([
      op(1, { op: 'put', key: 'x', value: 'a' }, 0, {}, 1),
      op(2, { op: 'get', key: 'x' }, 2, { value: undefined }, 3)
    ])).toBe(false)
  })

  it('rejects reads that go back in time (new value, then old value)', () => {
    expect(check([
      op(1, { op: 'put', key: 'x', value: 'a' }, 0, {}, 1),
      op(1, { op: 'put', key: 'x', value: 'b' }, 2, {}, 10),
      op(2, { op: 'get', key: 'x' }, 3, { value: 'b' }, 4),
      op(3, { op: 'get', key: 'x' }, 5, { value: 'a' }, 6)
    ])).toBe(false)
  })

  it('rejects a CAS that succeeded against a value that was not there, and lost appends', () => {
    expect(check([
      op(1, { op: 'put', key: 'x', value: 'a' }, 0, {}, 1),
      op(2, { op: 'cas', key: 'x', expected: 'z', value: 'b' }, 2, { ok: true }, 3)
    ])).toBe(false)
    expect(check([
      op(1, { op: 'append', key: 'x', value: '1' }, 0, {}, 1),
      op(2, { op: 'append', key: 'x', value: '2' }, 0, {}, 1),
      op(3, { op: 'get', key: 'x' }, 2, { value: '2' }, 3)
    ])).toBe(false)
  })

  it('an unknown outcome may take effect late or never, but not un-happen', () => {
    const put = op(1, { op: 'put', key: 'x', value: 'a' }, 0, undefined, Infinity)
    expect(check([put, op(2, { op: 'get', key: 'x' }, 5, { value: undefined }, 6)])).toBe(true)
    expect(check([put, op(2, { op: 'get', key: 'x' }, 5, { value: 'a' }, 6)])).toBe(true)
    expect(check([put, op(2, { op: 'get', key: 'x' }, 5, { value: 'a' }, 6), op(3, { op: 'get', key: 'x' }, 7, { value: undefined }, 8)])).toBe(false)
    // An unknown CAS either applied (when its expectation held) or did not.
    const cas = op(1, { op: 'cas', key: 'x', expected: undefined, value: 'c' }, 0, undefined, Infinity)
    expect(check([cas, op(2, { op: 'get', key: 'x' }, 5, { value: 'c' }, 6)])).toBe(true)
    expect(check([op(0, { op: 'put', key: 'x', value: 'p' }, 0, {}, 1), { ...cas, call: 2 }, op(2, { op: 'get', key: 'x' }, 5, { value: 'c' }, 6)])).toBe(false)
  })

  it('checks keys independently and names the failing partition', () => {
    const r = checkLinearizability(kvModel, [
      op(1, { op: 'put', key: 'ok', value: 'a' }, 0, {}, 1),
      op(1, { op: 'put', key: 'bad', value: 'a' }, 0, {}, 1),
      op(2, { op: 'get', key: 'bad' }, 2, { value: 'zz' }, 3)
    ])
    expect(r.ok).toBe(false)
    expect(r.partitions).toBe(2)
    expect(r.counterexample?.[0]?.input.key).toBe('bad')
  })

  it('rejects malformed histories with a clear error', () => {
    expect(() => checkLinearizability(kvModel, [op(1, { op: 'get', key: 'x' }, 5, {}, 1)])).toThrow(/call ≤ return/)
  })
})

/** A history from a real register: every operation takes effect at a random point inside its interval. */
export function generateHistory (seed: number, n: number, clients: number, keys: number, unknownRate: number): KvOperation[] {
  let x = seed >>> 0 || 1
  const rnd = (): number => { x ^= x << 13; x >>>= 0; x ^= x >>> 17; x ^= x << 5; x >>>= 0; return x / 4294967296 }
  const free = Array<number>(clients).fill(0)
  const ops: Array<{ op: KvOperation, at: number, unknown: boolean, applies: boolean }> = []
  for (let i = 0; i < n; i++) {
    const c = i % clients
    const call = free[c]! + Math.floor(rnd() * 5)
    const ret = call + 1 + Math.floor(rnd() * 20)
    free[c] = ret + 1
    const key = `k${Math.floor(rnd() * keys)}`
    const r = rnd()
    const input: KvInput = r < 0.4
      ? { op: 'get', key }
      : r < 0.65 ? { op: 'put', key, value: `v${i}` } : r < 0.85 ? { op: 'append', key, value: `.${i}` } : { op: 'cas', key, expected: rnd() < 0.5 ? undefined : `v${Math.floor(rnd() * i)}`, value: `c${i}` }
    const unknown = input.op !== 'get' && rnd() < unknownRate
    ops.push({ op: { client: c, input, call, output: undefined, return: unknown ? Infinity : ret }, at: call + rnd() * (ret - call), unknown, applies: !unknown || rnd() < 0.5 })
  }
  const state = new Map<string, string>()
  for (const o of [...ops].sort((a, b) => a.at - b.at)) {
    if (!o.applies) continue
    const i = o.op.input
    const cur = state.get(i.key)
    let out: KvOutput = {}
    if (i.op === 'get') out = { value: cur }
    else if (i.op === 'put') state.set(i.key, i.value)
    else if (i.op === 'append') state.set(i.key, (cur ?? '') + i.value)
    else {
      out = { ok: cur === i.expected }
      if (out.ok === true) state.set(i.key, i.value)
    }
    if (!o.unknown) o.op.output = out
  }
  return ops.map(o => o.op)
}

describe('linearizability checker: generated histories', () => {
  const runs = Number(process.env.FC_NUM_RUNS ?? 100)

  it('accepts every history produced by a real register', () => {
    fc.assert(fc.property(fc.integer({ min: 1, max: 2 ** 31 }), seed => {
      expect(check(generateHistory(seed, 200, 6, 3, 0.1))).toBe(true)
    }), { numRuns: runs })
  })

  it('rejects the same histories once one read returns a value never written', () => {
    fc.assert(fc.property(fc.integer({ min: 1, max: 2 ** 31 }), fc.nat(), (seed, pick) => {
      const h = generateHistory(seed, 200, 6, 3, 0.1)
      const gets = h.filter(o => o.input.op === 'get' && o.output !== undefined)
      fc.pre(gets.length > 0)
      gets[pick % gets.length]!.output = { value: 'never-written' }
      expect(check(h)).toBe(false)
    }), { numRuns: runs })
  })

  it('rejects a history where a completed write is swapped for a later one', () => {
    fc.assert(fc.property(fc.integer({ min: 1, max: 2 ** 31 }), seed => {
      // Two sequential puts, then a read of the first: not linearizable whatever the noise around it.
      const h = generateHistory(seed, 100, 4, 3, 0.05).map(o => ({ ...o, call: o.call + 1000, return: o.return + 1000 }))
      h.push(op(99, { op: 'put', key: 'k0', value: 'A' }, 0, {}, 1), op(99, { op: 'put', key: 'k0', value: 'B' }, 2, {}, 3), op(98, { op: 'get', key: 'k0' }, 4, { value: 'A' }, 5))
      expect(check(h)).toBe(false)
    }), { numRuns: Math.min(runs, 50) })
  })

  it('finishes a 10,000-operation history of 12 clients with 5% unknown outcomes', () => {
    const h = generateHistory(7, 10_000, 12, 10, 0.1)
    const unknown = h.filter(o => o.return === Infinity).length
    expect(unknown / h.length).toBeGreaterThanOrEqual(0.05)
    const r = checkLinearizability(kvModel, h, { timeoutMs: 60_000 })
    expect(r.ok).toBe(true)
  }, 90_000)
})
