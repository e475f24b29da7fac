import fc from 'fast-check'
import { Heap as HeapJs } from 'heap-js'
import { describe, expect, it } from 'vitest'
import { FibonacciHeap, type HeapNode } from '../src/index.js'
import { checkInvariants } from './invariants.js'

const NUM_RUNS = Number(process.env.FC_NUM_RUNS ?? 2000)

describe('FibonacciHeap basics', () => {
  it('extracts in ascending key order', () => {
    const heap = new FibonacciHeap<number, string>()
    for (const k of [5, 3, 9, 1, 7, 1]) heap.insert(k, `v${k}`)
    expect(heap.size).toBe(6)
    expect(heap.peek()?.key).toBe(1)
    expect([...heap.drain()].map((n) => n.key)).toEqual([1, 1, 3, 5, 7, 9])
    expect(heap.isEmpty()).toBe(true)
    expect(heap.extractMin()).toBeUndefined()
    expect(heap.peek()).toBeUndefined()
  })

  it('decreaseKey moves a node to the front', () => {
    const heap = new FibonacciHeap<number, string>()
    const nodes = [10, 20, 30, 40].map((k) => heap.insert(k, `v${k}`))
    heap.extractMin() // forces a consolidation, so nodes have parents
    heap.decreaseKey(nodes[3]!, 5)
    expect(heap.peek()?.value).toBe('v40')
    expect(nodes[3]!.key).toBe(5)
    checkInvariants(heap)
  })

  it('delete removes any node and keeps the rest ordered', () => {
    const heap = FibonacciHeap.from<number, number>(Array.from({ length: 50 }, (_, i) => [i, i] as const))
    heap.extractMin()
    const victim = [...heap].find((n) => n.key === 25)!
    heap.delete(victim)
    expect(heap.has(victim)).toBe(false)
    expect([...heap.drain()].map((n) => n.key)).toEqual(Array.from({ length: 49 }, (_, i) => i + 1).filter((k) => k !== 25))
  })

  it('uses a custom comparator', () => {
    const heap = new FibonacciHeap<string, number>({ compare: (a, b) => (a < b ? -1 : a > b ? 1 : 0) })
    for (const [i, s] of ['pear', 'apple', 'fig'].entries()) heap.insert(s, i)
    expect([...heap.drain()].map((n) => n.key)).toEqual(['apple', 'fig', 'pear'])
  })

  it('merges in place and keeps handles of the merged heap valid', () => {
    const a = FibonacciHeap.from<number, string>([[3, 'a3'], [1, 'a1']])
    const b = new FibonacciHeap<number, string>()
    const b0 = b.insert(0, 'b0')
    const b5 = b.insert(5, 'b5')
    expect(a.merge(b)).toBe(a)
    expect(b.size).toBe(0)
    expect(b.isEmpty()).toBe(true)
    expect(a.size).toBe(4)
    expect(a.has(b5)).toBe(true)
    expect(a.has(b0)).toBe(true)
    expect(b.has(b5)).toBe(false)
    a.decreaseKey(b5, -1)
    expect(a.peek()).toBe(b5)
    expect([...a.drain()].map((n) => n.value)).toEqual(['b5', 'b0', 'a1', 'a3'])
    // The emptied heap is usable again and independent.
    const again = b.insert(7, 'again')
    expect(b.has(again)).toBe(true)
    expect(a.has(again)).toBe(false)
  })

  it('iterates without changing the heap', () => {
    const heap = FibonacciHeap.from<number, number>(Array.from({ length: 100 }, (_, i) => [i % 17, i] as const))
    heap.extractMin()
    const seen = [...heap].map((n) => n.value).sort((x, y) => x - y)
    expect(seen.length).toBe(99)
    expect(heap.size).toBe(99)
    checkInvariants(heap)
  })

  it('clear orphans every handle', () => {
    const heap = new FibonacciHeap<number, number>()
    const n = heap.insert(1, 1)
    heap.clear()
    expect(heap.size).toBe(0)
    expect(heap.has(n)).toBe(false)
    expect(() => heap.decreaseKey(n, 0)).toThrow(RangeError)
  })
})

describe('FibonacciHeap misuse', () => {
  it('refuses a key increase with a RangeError that names both keys', () => {
    const heap = new FibonacciHeap<number, string>()
    const n = heap.insert(3, 'x')
    const err = captureError(() => heap.decreaseKey(n, 4))
    expect(err).toBeInstanceOf(RangeError)
    expect(err.name).toBe('KeyIncreaseError')
    expect(err.message).toContain('from 3 to 4')
    expect(n.key).toBe(3)
    expect(heap.size).toBe(1)
  })

  it('refuses a foreign, extracted or deleted handle', () => {
    const a = new FibonacciHeap<number, string>()
    const b = new FibonacciHeap<number, string>()
    const foreign = b.insert(1, 'b')
    a.insert(2, 'a')
    for (const op of [() => a.decreaseKey(foreign, 0), () => a.delete(foreign)]) {
      const err = captureError(op)
      expect(err).toBeInstanceOf(RangeError)
      expect(err.name).toBe('ForeignHandleError')
    }
    const extracted = b.extractMin()!
    expect(() => b.decreaseKey(extracted, 0)).toThrow(/not in this heap/)
    const d = a.insert(5, 'd')
    a.delete(d)
    expect(() => a.delete(d)).toThrow(RangeError)
    expect(() => a.decreaseKey({ key: 1, value: 'fake' }, 0)).toThrow(RangeError)
    expect(a.size).toBe(1)
    checkInvariants(a)
  })

  it('refuses NaN and non-numbers without a comparator', () => {
    const heap = new FibonacciHeap<number, number>()
    expect(() => heap.insert(Number.NaN, 1)).toThrow(TypeError)
    expect(() => heap.insert('1' as unknown as number, 1)).toThrow(/not a comparable number/)
    const n = heap.insert(1, 1)
    expect(() => heap.decreaseKey(n, Number.NaN)).toThrow(TypeError)
    expect(heap.size).toBe(1)
  })

  it('refuses bad options and self-merge', () => {
    expect(() => new FibonacciHeap({ compare: 5 as unknown as () => number })).toThrow(/options.compare must be a function/)
    const heap = new FibonacciHeap()
    expect(() => heap.merge(heap)).toThrow(TypeError)
    const other = new FibonacciHeap<number, unknown>({ compare: (x, y) => x - y })
    expect(() => heap.merge(other)).toThrow(/different comparators/)
  })
})

// ---------------------------------------------------------------------------------------
// Model-based property test: random operation sequences against a sorted-array model.

type Op =
  | { t: 'insert', key: number }
  | { t: 'extract' }
  | { t: 'decrease', pick: number, by: number }
  | { t: 'delete', pick: number }
  | { t: 'merge', keys: number[] }
  | { t: 'clear' }
  | { t: 'misuse', pick: number, kind: 'increase' | 'foreign' | 'stale' }

const opArb: fc.Arbitrary<Op> = fc.oneof(
  { weight: 10, arbitrary: fc.record({ t: fc.constant('insert' as const), key: fc.integer({ min: -50, max: 50 }) }) },
  { weight: 6, arbitrary: fc.constant({ t: 'extract' as const }) },
  { weight: 6, arbitrary: fc.record({ t: fc.constant('decrease' as const), pick: fc.nat(), by: fc.integer({ min: 0, max: 40 }) }) },
  { weight: 3, arbitrary: fc.record({ t: fc.constant('delete' as const), pick: fc.nat() }) },
  { weight: 1, arbitrary: fc.record({ t: fc.constant('merge' as const), keys: fc.array(fc.integer({ min: -50, max: 50 }), { maxLength: 12 }) }) },
  { weight: 1, arbitrary: fc.constant({ t: 'clear' as const }) },
  { weight: 1, arbitrary: fc.record({ t: fc.constant('misuse' as const), pick: fc.nat(), kind: fc.constantFrom('increase' as const, 'foreign' as const, 'stale' as const) }) },
)

interface Entry { key: number, id: number }

describe('FibonacciHeap against a sorted-array model', () => {
  it('agrees on every operation and keeps its invariants', () => {
    fc.assert(
      fc.property(fc.array(opArb, { maxLength: 120 }), (ops) => {
        const heap = new FibonacciHeap<number, number>()
        const model: Entry[] = []
        const handles = new Map<number, HeapNode<number, number>>()
        const stale: Array<HeapNode<number, number>> = []
        let nextId = 0
        const remove = (id: number): void => {
          model.splice(model.findIndex((e) => e.id === id), 1)
          stale.push(handles.get(id)!)
          handles.delete(id)
        }
        for (const op of ops) {
          switch (op.t) {
            case 'insert': {
              const id = nextId++
              handles.set(id, heap.insert(op.key, id))
              model.push({ key: op.key, id })
              break
            }
            case 'extract': {
              const got = heap.extractMin()
              if (model.length === 0) {
                expect(got).toBeUndefined()
                break
              }
              const minKey = Math.min(...model.map((e) => e.key))
              expect(got!.key).toBe(minKey)
              expect(model.find((e) => e.id === got!.value)?.key).toBe(minKey)
              remove(got!.value)
              break
            }
            case 'decrease': {
              if (model.length === 0) break
              const e = model[op.pick % model.length]!
              e.key -= op.by
              heap.decreaseKey(handles.get(e.id)!, e.key)
              break
            }
            case 'delete': {
              if (model.length === 0) break
              const e = model[op.pick % model.length]!
              heap.delete(handles.get(e.id)!)
              remove(e.id)
              break
            }
            case 'merge': {
              // Two heaps with some structure each (a consolidation), one merged into the
              // other, then into the heap under test: folds degree tables of merged heaps.
              const [outer, inner] = [new FibonacciHeap<number, number>(), new FibonacciHeap<number, number>()]
              op.keys.forEach((key, i) => {
                const id = nextId++
                handles.set(id, (i % 2 === 0 ? outer : inner).insert(key, id))
                model.push({ key, id })
              })
              for (const h of [outer, inner]) {
                const ex = h.extractMin()
                if (ex !== undefined) {
                  stale.push(ex)
                  handles.set(ex.value, h.insert(ex.key, ex.value))
                }
              }
              outer.merge(inner)
              expect(inner.size).toBe(0)
              heap.merge(outer)
              expect(outer.size).toBe(0)
              break
            }
            case 'clear': {
              heap.clear()
              for (const e of [...model]) remove(e.id)
              break
            }
            case 'misuse': {
              const before = heap.size
              if (op.kind === 'increase' && model.length > 0) {
                const e = model[op.pick % model.length]!
                expect(() => heap.decreaseKey(handles.get(e.id)!, e.key + 1)).toThrow(RangeError)
              } else if (op.kind === 'foreign') {
                const foreign = new FibonacciHeap<number, number>().insert(0, -1)
                expect(() => heap.decreaseKey(foreign, -1)).toThrow(RangeError)
                expect(() => heap.delete(foreign)).toThrow(RangeError)
              } else if (op.kind === 'stale' && stale.length > 0) {
                const h = stale[op.pick % stale.length]!
                expect(heap.has(h)).toBe(false)
                expect(() => heap.delete(h)).toThrow(RangeError)
              }
              expect(heap.size).toBe(before)
              break
            }
          }
          expect(heap.size).toBe(model.length)
          expect(heap.isEmpty()).toBe(model.length === 0)
          if (model.length > 0) expect(heap.peek()!.key).toBe(Math.min(...model.map((e) => e.key)))
          checkInvariants(heap)
        }
        // Drain agrees with the sorted model, and handles report their current keys.
        const drained = [...heap.drain()].map((n) => n.key)
        expect(drained).toEqual(model.map((e) => e.key).sort((x, y) => x - y))
      }),
      { numRuns: NUM_RUNS },
    )
  })

  it('orders with a comparator exactly as with numbers', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: -1000, max: 1000 }), { maxLength: 300 }), (keys) => {
        const heap = new FibonacciHeap<bigint, number>({ compare: (a, b) => (a < b ? -1 : a > b ? 1 : 0) })
        keys.forEach((k, i) => heap.insert(BigInt(k), i))
        heap.extractMin()
        checkInvariants(heap, (a, b) => (a < b ? -1 : a > b ? 1 : 0))
        const out = [...heap.drain()].map((n) => Number(n.key))
        expect(out).toEqual([...keys].sort((x, y) => x - y).slice(1))
      }),
      { numRuns: Math.max(50, NUM_RUNS / 10) },
    )
  })
})

function captureError (fn: () => unknown): Error {
  try {
    fn()
  } catch (err) {
    return err as Error
  }
  throw new Error('expected an error')
}

describe('FibonacciHeap at scale', () => {
  // Deep trees, long cascades of cuts, cuts of table roots: things short random sequences
  // rarely reach. Checked against a lazy-deletion binary heap.
  it('agrees with a reference queue over 60,000 mixed operations', () => {
    const seeds = Number(process.env.FC_NUM_RUNS ?? 2000) >= 10_000 ? 20 : 3
    for (let seed = 1; seed <= seeds; seed++) {
      let state = seed
      const rand = (): number => {
        state = (Math.imul(state, 1103515245) + 12345) >>> 0
        return state / 4294967296
      }
      const heap = new FibonacciHeap<number, number>()
      const reference = new HeapJs<[number, number]>((a, b) => a[0] - b[0] || a[1] - b[1])
      const alive = new Map<number, number>()
      const handles = new Map<number, HeapNode<number, number>>()
      const ids: number[] = []
      let nextId = 0
      const referenceMin = (): number | undefined => {
        for (;;) {
          const top = reference.peek()
          if (top === undefined) return undefined
          if (alive.get(top[1]) === top[0]) return top[0]
          reference.pop()
        }
      }
      const forget = (id: number): void => {
        alive.delete(id)
        handles.delete(id)
      }
      for (let step = 0; step < 20_000; step++) {
        const r = rand()
        if (r < 0.4 || alive.size === 0) {
          const id = nextId++
          const key = Math.floor(rand() * 1e6)
          handles.set(id, heap.insert(key, id))
          alive.set(id, key)
          ids.push(id)
          reference.push([key, id])
        } else if (r < 0.75) {
          const id = ids[Math.floor(rand() * ids.length)]!
          if (!alive.has(id)) continue
          const key = alive.get(id)! - Math.floor(rand() * 5e5)
          heap.decreaseKey(handles.get(id)!, key)
          alive.set(id, key)
          reference.push([key, id])
        } else if (r < 0.8) {
          const id = ids[Math.floor(rand() * ids.length)]!
          if (!alive.has(id)) continue
          heap.delete(handles.get(id)!)
          forget(id)
        } else {
          const got = heap.extractMin()!
          expect(got.key).toBe(referenceMin())
          expect(alive.get(got.value)).toBe(got.key)
          forget(got.value)
        }
        if (step % 5000 === 0) checkInvariants(heap)
      }
      expect(heap.size).toBe(alive.size)
      checkInvariants(heap)
      let prev = -Infinity
      for (const n of heap.drain()) {
        expect(n.key).toBeGreaterThanOrEqual(prev)
        prev = n.key
      }
    }
  })
})
