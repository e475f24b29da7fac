// Side-by-side benchmark of priority queues, all in one process.
//
//   pnpm --filter @p2p-mcp/fibonacci-heap bench            (after a build)
//   ROUNDS=7 node packages/fibonacci-heap/bench/heap.bench.ts
//
// Each case runs every library ROUNDS times (library order rotated every round so that
// no library always runs first or last in a warm or cold JIT/GC state) and reports the
// median time. Every library's result is checked against the others.
//
// Time is the process's CPU time (process.cpuUsage(), user + system, all threads), not
// wall time: on a shared machine wall time also counts other processes' turns on the CPU.
// On an idle machine the two agree for this single-threaded code (TIMER=wall to check).
import { FibonacciHeap as TyriarHeap } from '@tyriar/fibonacci-heap'
import FlatQueue from 'flatqueue'
import { Heap as HeapJs } from 'heap-js'
import { Heap as MnemonistHeap } from 'mnemonist'
import { FibonacciHeap } from '../dist/index.js'
import { mulberry32 } from '@p2p-mcp/testkit/random'

const ROUNDS = Number(process.env.ROUNDS ?? 5)
const WALL = process.env.TIMER === 'wall'
function now (): number {
  if (WALL) return performance.now()
  const u = process.cpuUsage()
  return (u.user + u.system) / 1000
}
const numCmp = (a: number, b: number): number => a - b


// ---------------------------------------------------------------------------------------
// Case 1: N inserts, then drain everything.

type FillDrain = (keys: Float64Array) => number

const fillDrain: Record<string, FillDrain> = {
  '@p2p-mcp/fibonacci-heap': (keys) => {
    const h = new FibonacciHeap<number, number>()
    for (let i = 0; i < keys.length; i++) h.insert(keys[i]!, i)
    let sum = 0
    while (!h.isEmpty()) sum += h.extractMin()!.value
    return sum
  },
  '@tyriar/fibonacci-heap': (keys) => {
    const h = new TyriarHeap<number, number>()
    for (let i = 0; i < keys.length; i++) h.insert(keys[i]!, i)
    let sum = 0
    while (!h.isEmpty()) sum += h.extractMinimum()!.value!
    return sum
  },
  'mnemonist Heap': (keys) => {
    const h = new MnemonistHeap<number>(numCmp)
    for (let i = 0; i < keys.length; i++) h.push(keys[i]!)
    let sum = 0
    let prev = -Infinity
    while (h.size > 0) {
      const k = h.pop()!
      if (k < prev) throw new Error('out of order')
      prev = k
      sum += 1
    }
    return sum === keys.length ? (keys.length * (keys.length - 1)) / 2 : -1
  },
  'heap-js': (keys) => {
    const h = new HeapJs<number>(numCmp)
    for (let i = 0; i < keys.length; i++) h.push(keys[i]!)
    let sum = 0
    let prev = -Infinity
    while (h.size() > 0) {
      const k = h.pop()!
      if (k < prev) throw new Error('out of order')
      prev = k
      sum += 1
    }
    return sum === keys.length ? (keys.length * (keys.length - 1)) / 2 : -1
  },
  flatqueue: (keys) => {
    const h = new FlatQueue<number>()
    for (let i = 0; i < keys.length; i++) h.push(i, keys[i]!)
    let sum = 0
    while (h.length > 0) sum += h.pop()!
    return sum
  },
}

// ---------------------------------------------------------------------------------------
// Case 2: drain only. A heap of 1e4 keys is filled outside the timer; the timer covers
// extracting every key, in order; repeated 100 times.

interface Drainable { fill: (keys: Float64Array) => unknown, drain: (heap: unknown) => number }

const drainOnly: Record<string, Drainable> = {
  '@p2p-mcp/fibonacci-heap': {
    fill: (keys) => {
      const h = new FibonacciHeap<number, number>()
      for (let i = 0; i < keys.length; i++) h.insert(keys[i]!, i)
      return h
    },
    drain: (heap) => {
      const h = heap as FibonacciHeap<number, number>
      let sum = 0
      while (!h.isEmpty()) sum += h.extractMin()!.value
      return sum
    },
  },
  '@tyriar/fibonacci-heap': {
    fill: (keys) => {
      const h = new TyriarHeap<number, number>()
      for (let i = 0; i < keys.length; i++) h.insert(keys[i]!, i)
      return h
    },
    drain: (heap) => {
      const h = heap as TyriarHeap<number, number>
      let sum = 0
      while (!h.isEmpty()) sum += h.extractMinimum()!.value!
      return sum
    },
  },
  'mnemonist Heap': {
    fill: (keys) => {
      const h = new MnemonistHeap<number>(numCmp)
      for (let i = 0; i < keys.length; i++) h.push(keys[i]!)
      return h
    },
    drain: (heap) => {
      const h = heap as MnemonistHeap<number>
      const n = h.size
      let prev = -Infinity
      while (h.size > 0) {
        const k = h.pop()!
        if (k < prev) throw new Error('out of order')
        prev = k
      }
      return (n * (n - 1)) / 2
    },
  },
  'heap-js': {
    fill: (keys) => {
      const h = new HeapJs<number>(numCmp)
      for (let i = 0; i < keys.length; i++) h.push(keys[i]!)
      return h
    },
    drain: (heap) => {
      const h = heap as HeapJs<number>
      const n = h.size()
      let prev = -Infinity
      while (h.size() > 0) {
        const k = h.pop()!
        if (k < prev) throw new Error('out of order')
        prev = k
      }
      return (n * (n - 1)) / 2
    },
  },
  flatqueue: {
    fill: (keys) => {
      const h = new FlatQueue<number>()
      for (let i = 0; i < keys.length; i++) h.push(i, keys[i]!)
      return h
    },
    drain: (heap) => {
      const h = heap as FlatQueue<number>
      let sum = 0
      while (h.length > 0) sum += h.pop()!
      return sum
    },
  },
}

/** Fills a heap (untimed) and times its drain, `heaps` times per library and round. */
function runDrainOnly (keys: Float64Array, heaps: number): Row[] {
  const names = Object.keys(drainOnly)
  const times = new Map<string, number[]>(names.map((n) => [n, []]))
  const expected = (keys.length * (keys.length - 1)) / 2
  for (let round = 0; round < ROUNDS; round++) {
    for (let k = 0; k < names.length; k++) {
      const name = names[(k + round) % names.length]!
      const impl = drainOnly[name]!
      let sum = 0
      let spent = 0
      for (let i = 0; i < heaps; i++) {
        const h = impl.fill(keys)
        const t0 = now()
        sum += impl.drain(h)
        spent += now() - t0
      }
      times.get(name)!.push(spent)
      if (sum !== expected * heaps) throw new Error(`${name} drained ${sum}, expected ${expected * heaps}`)
    }
  }
  return names.map((lib) => ({ lib, ms: median(times.get(lib)!) }))
}

// ---------------------------------------------------------------------------------------
// Case 3: Dijkstra on a seeded random digraph in CSR form. Heaps with handles use
// decreaseKey; the others push duplicates and skip stale entries (lazy deletion).

interface Graph { n: number, offsets: Uint32Array, targets: Uint32Array, weights: Float64Array }

function makeGraph (n: number, m: number, seed: number): Graph {
  const r = mulberry32(seed)
  const src = new Uint32Array(m)
  const counts = new Uint32Array(n + 1)
  // A ring through every node keeps the graph connected; the remaining edges are random.
  for (let i = 0; i < m; i++) {
    const s = i < n ? i : Math.floor(r() * n)
    src[i] = s
    counts[s + 1]!++
  }
  const offsets = new Uint32Array(n + 1)
  for (let i = 0; i < n; i++) offsets[i + 1] = offsets[i]! + counts[i + 1]!
  const fill = offsets.slice(0, n)
  const targets = new Uint32Array(m)
  const weights = new Float64Array(m)
  for (let i = 0; i < m; i++) {
    const s = src[i]!
    const at = fill[s]!++
    targets[at] = i < n ? (s + 1) % n : Math.floor(r() * n)
    weights[at] = 1 + Math.floor(r() * 1000)
  }
  return { n, offsets, targets, weights }
}

type Dijkstra = (g: Graph) => number

function checksum (dist: Float64Array): number {
  let s = 0
  for (let i = 0; i < dist.length; i++) s += dist[i]!
  return s
}

const dijkstra: Record<string, Dijkstra> = {
  '@p2p-mcp/fibonacci-heap': ({ n, offsets, targets, weights }) => {
    const dist = new Float64Array(n).fill(Infinity)
    const handles = new Array<ReturnType<FibonacciHeap<number, number>['insert']> | undefined>(n)
    const done = new Uint8Array(n)
    const h = new FibonacciHeap<number, number>()
    dist[0] = 0
    handles[0] = h.insert(0, 0)
    while (!h.isEmpty()) {
      const u = h.extractMin()!.value
      done[u] = 1
      const du = dist[u]!
      for (let e = offsets[u]!, end = offsets[u + 1]!; e < end; e++) {
        const v = targets[e]!
        if (done[v] === 1) continue
        const nd = du + weights[e]!
        if (nd < dist[v]!) {
          dist[v] = nd
          const hv = handles[v]
          if (hv === undefined) handles[v] = h.insert(nd, v)
          else h.decreaseKey(hv, nd)
        }
      }
    }
    return checksum(dist)
  },
  '@tyriar/fibonacci-heap': ({ n, offsets, targets, weights }) => {
    const dist = new Float64Array(n).fill(Infinity)
    const handles = new Array<ReturnType<TyriarHeap<number, number>['insert']> | undefined>(n)
    const done = new Uint8Array(n)
    const h = new TyriarHeap<number, number>()
    dist[0] = 0
    handles[0] = h.insert(0, 0)
    while (!h.isEmpty()) {
      const u = h.extractMinimum()!.value!
      done[u] = 1
      const du = dist[u]!
      for (let e = offsets[u]!, end = offsets[u + 1]!; e < end; e++) {
        const v = targets[e]!
        if (done[v] === 1) continue
        const nd = du + weights[e]!
        if (nd < dist[v]!) {
          dist[v] = nd
          const hv = handles[v]
          if (hv === undefined) handles[v] = h.insert(nd, v)
          else h.decreaseKey(hv, nd)
        }
      }
    }
    return checksum(dist)
  },
  'mnemonist Heap (lazy)': ({ n, offsets, targets, weights }) => {
    const dist = new Float64Array(n).fill(Infinity)
    const h = new MnemonistHeap<[number, number]>((a, b) => a[0] - b[0])
    dist[0] = 0
    h.push([0, 0])
    while (h.size > 0) {
      const [d, u] = h.pop()!
      if (d > dist[u]!) continue
      for (let e = offsets[u]!, end = offsets[u + 1]!; e < end; e++) {
        const v = targets[e]!
        const nd = d + weights[e]!
        if (nd < dist[v]!) {
          dist[v] = nd
          h.push([nd, v])
        }
      }
    }
    return checksum(dist)
  },
  'heap-js (lazy)': ({ n, offsets, targets, weights }) => {
    const dist = new Float64Array(n).fill(Infinity)
    const h = new HeapJs<[number, number]>((a, b) => a[0] - b[0])
    dist[0] = 0
    h.push([0, 0])
    while (h.size() > 0) {
      const [d, u] = h.pop()!
      if (d > dist[u]!) continue
      for (let e = offsets[u]!, end = offsets[u + 1]!; e < end; e++) {
        const v = targets[e]!
        const nd = d + weights[e]!
        if (nd < dist[v]!) {
          dist[v] = nd
          h.push([nd, v])
        }
      }
    }
    return checksum(dist)
  },
  'flatqueue (lazy)': ({ n, offsets, targets, weights }) => {
    const dist = new Float64Array(n).fill(Infinity)
    const h = new FlatQueue<number>()
    dist[0] = 0
    h.push(0, 0)
    while (h.length > 0) {
      const d = h.peekValue()!
      const u = h.pop()!
      if (d > dist[u]!) continue
      for (let e = offsets[u]!, end = offsets[u + 1]!; e < end; e++) {
        const v = targets[e]!
        const nd = d + weights[e]!
        if (nd < dist[v]!) {
          dist[v] = nd
          h.push(v, nd)
        }
      }
    }
    return checksum(dist)
  },
}

// ---------------------------------------------------------------------------------------

function median (xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b)
  return s[Math.floor(s.length / 2)]!
}

interface Row { lib: string, ms: number }

function runCase<I> (title: string, impls: Record<string, (input: I) => number>, input: I, repeat = 1): Row[] {
  const names = Object.keys(impls)
  const times = new Map<string, number[]>(names.map((n) => [n, []]))
  const results = new Map<string, number>()
  for (let round = 0; round < ROUNDS; round++) {
    for (let k = 0; k < names.length; k++) {
      const name = names[(k + round) % names.length]!
      const fn = impls[name]!
      const t0 = now()
      let out = 0
      for (let r = 0; r < repeat; r++) out = fn(input)
      times.get(name)!.push(now() - t0)
      const prev = results.get(name)
      if (prev !== undefined && prev !== out) throw new Error(`${name} gave ${out} then ${prev}`)
      results.set(name, out)
    }
  }
  const expected = results.get(names[0]!)!
  for (const [name, out] of results) {
    if (Math.abs(out - expected) > 1e-6 * Math.abs(expected)) throw new Error(`${title}: ${name} computed ${out}, expected ${expected}`)
  }
  return names.map((lib) => ({ lib, ms: median(times.get(lib)!) }))
}

function print (title: string, rows: Row[]): void {
  const ours = rows.find((r) => r.lib === '@p2p-mcp/fibonacci-heap')!.ms
  console.log(`\n### ${title}\n`)
  console.log(`| library | median ${WALL ? 'wall' : 'CPU'} ms | ours is × faster |`)
  console.log('| --- | ---: | ---: |')
  for (const r of rows) console.log(`| ${r.lib} | ${r.ms.toFixed(1)} | ${(r.ms / ours).toFixed(2)} |`)
}

const only = process.env.CASES?.split(',')
const want = (c: string): boolean => only === undefined || only.includes(c)

console.log(`Node ${process.version}, ${ROUNDS} rounds, median ${WALL ? 'wall' : 'CPU'} time`)
if (want('fill')) {
  const r = mulberry32(1)
  const keys = new Float64Array(1_000_000).map(() => r())
  print('1e6 random inserts, then drain', runCase('fill', fillDrain, keys))
}
if (want('drain')) {
  const r = mulberry32(2)
  const keys = new Float64Array(10_000).map(() => r())
  print('drain of 1e4 keys (heaps filled outside the timer), ×100', runDrainOnly(keys, 100))
  print('1e4 inserts then drain, ×100', runCase('drain', fillDrain, keys, 100))
}
if (want('dijkstra')) {
  for (const [n, m] of [[50_000, 500_000], [100_000, 1_000_000]] as const) {
    const g = makeGraph(n, m, 3)
    print(`Dijkstra, ${n.toExponential(0)} nodes / ${m.toExponential(0)} edges (decreaseKey where the library has it)`, runCase('dijkstra', dijkstra, g))
  }
}
