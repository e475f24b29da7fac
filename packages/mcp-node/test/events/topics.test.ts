// Topic wildcards and filter expressions against reference implementations.
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { compileFilter, compileTopic } from '../../src/events/topics.js'
import { outcomeTally, typedOutcome } from '@p2p-mcp/testkit/fuzz'

const numRuns = Number(process.env.FC_NUM_RUNS ?? 500)
const segment = fc.constantFrom('a', 'b', 'mesh', 'peer', 'x-1')

/** Reference: plain recursive matching on segment arrays (exponential, fine for short topics). */
function naive (p: string[], t: string[]): boolean {
  if (p.length === 0) return t.length === 0
  const [h, ...rest] = p
  if (h === '#') return Array.from({ length: t.length + 1 }, (_, k) => k).some((k) => naive(rest, t.slice(k)))
  return t.length > 0 && (h === '*' || h === t[0]) && naive(rest, t.slice(1))
}

describe('topic patterns', () => {
  it('examples', () => {
    expect(compileTopic('mesh.peer.*')('mesh.peer.joined')).toBe(true)
    expect(compileTopic('mesh.peer.*')('mesh.peer')).toBe(false)
    expect(compileTopic('mesh.peer.*')('mesh.peer.a.b')).toBe(false)
    expect(compileTopic('workflow.#')('workflow')).toBe(true)
    expect(compileTopic('workflow.#')('workflow.task.done')).toBe(true)
    expect(compileTopic('#')('anything.at.all')).toBe(true)
    expect(() => compileTopic('a..b')).toThrow(/invalid topic pattern/)
    expect(() => compileTopic('a.b*')).toThrow(/invalid topic pattern/)
  })

  it('property: the matcher agrees with a reference matcher', () => {
    const pattern = fc.array(fc.oneof(segment, fc.constant('*'), fc.constant('#')), { minLength: 1, maxLength: 5 })
    const topic = fc.array(segment, { minLength: 1, maxLength: 6 })
    fc.assert(fc.property(pattern, topic, (p, t) => {
      const got = compileTopic(p.join('.'))(t.join('.'))
      expect(got).toBe(naive(p, t))
    }), { numRuns })
  })
})

type Ast = { k: 'cmp', path: string, op: string, value: string | number | boolean | null } | { k: 'and' | 'or', a: Ast, b: Ast } | { k: 'not', a: Ast } | { k: 'exists', path: string }

function render (n: Ast): string {
  switch (n.k) {
    case 'cmp': return `${n.path} ${n.op} ${JSON.stringify(n.value)}`
    case 'exists': return `exists(${n.path})`
    case 'not': return `not (${render(n.a)})`
    default: return `(${render(n.a)}) ${n.k} (${render(n.b)})`
  }
}

function get (o: unknown, path: string): unknown {
  let cur = o
  for (const k of path.split('.')) {
    if (typeof cur !== 'object' || cur === null || !Object.hasOwn(cur, k)) return undefined
    cur = (cur as Record<string, unknown>)[k]
  }
  return cur
}

function evalRef (n: Ast, e: unknown): boolean {
  switch (n.k) {
    case 'and': return evalRef(n.a, e) && evalRef(n.b, e)
    case 'or': return evalRef(n.a, e) || evalRef(n.b, e)
    case 'not': return !evalRef(n.a, e)
    case 'exists': return get(e, n.path) !== undefined
  }
  const l = get(e, n.path)
  const r = n.value
  if (l === undefined) return n.op === '!='
  if (n.op === '==') return l === r
  if (n.op === '!=') return l !== r
  if (n.op === 'contains') return typeof l === 'string' && typeof r === 'string' ? l.includes(r) : Array.isArray(l) && l.includes(r)
  if (n.op === 'startsWith') return typeof l === 'string' && typeof r === 'string' && l.startsWith(r)
  if (!((typeof l === 'number' && typeof r === 'number') || (typeof l === 'string' && typeof r === 'string'))) return false
  return n.op === '<' ? l < r : n.op === '<=' ? l <= r : n.op === '>' ? l > r : l >= r
}

describe('filter expressions', () => {
  it('examples and errors', () => {
    const e = { source: 'p1', event_data: { server: 'calc', n: 3, tags: ['x'] } }
    expect(compileFilter('event_data.server == "calc" and event_data.n >= 3')(e)).toBe(true)
    expect(compileFilter('not exists(event_data.missing) and event_data.tags contains "x"')(e)).toBe(true)
    expect(compileFilter('source startsWith "q" or event_data.n < 1')(e)).toBe(false)
    expect(compileFilter('')(e)).toBe(true)
    expect(() => compileFilter('a ==')).toThrow(/invalid filter/)
    expect(() => compileFilter('a ~ 1')).toThrow(/invalid filter/)
    expect(() => compileFilter('(a == 1')).toThrow(/invalid filter/)
    expect(() => compileFilter('('.repeat(40) + 'a == 1' + ')'.repeat(40))).toThrow(/deeper/)
  })

  it('property: compiled filters agree with a reference evaluator', () => {
    const path = fc.constantFrom('source', 'event_data.n', 'event_data.s', 'event_data.tags', 'event_data.nested.x', 'missing')
    const value = fc.oneof(fc.integer({ min: -3, max: 3 }), fc.constantFrom('a', 'ab', 'b', ''), fc.boolean(), fc.constant(null))
    const op = fc.constantFrom('==', '!=', '<', '<=', '>', '>=', 'contains', 'startsWith')
    const ast: fc.Arbitrary<Ast> = fc.letrec<{ node: Ast }>((tie) => ({
      node: fc.oneof({ depthSize: 'small', withCrossShrink: true },
        fc.record({ k: fc.constant('cmp' as const), path, op, value }),
        fc.record({ k: fc.constant('exists' as const), path }),
        fc.record({ k: fc.constant('not' as const), a: tie('node') }),
        fc.record({ k: fc.constantFrom('and' as const, 'or' as const), a: tie('node'), b: tie('node') })),
    })).node
    const event = fc.record({
      source: fc.constantFrom('a', 'ab', 'b'),
      event_data: fc.record({ n: fc.integer({ min: -3, max: 3 }), s: fc.constantFrom('a', 'ab'), tags: fc.array(fc.constantFrom('a', 'b')), nested: fc.record({ x: value }) }, { requiredKeys: [] }),
    })
    fc.assert(fc.property(ast, event, (a, e) => {
      const text = render(a)
      if (text.length > 1024) return
      let f
      try { f = compileFilter(text) } catch (err) { if (/deeper/.test((err as Error).message)) return; throw err }
      expect(f(e)).toBe(evalRef(a, e))
    }), { numRuns })
  })

  it('decoder fuzz: event subscription filter — arbitrary text and token soup compile or throw InvalidSubscriptionError', () => {
    const tally = outcomeTally('event subscription filter')
    const token = fc.oneof(fc.constantFrom('(', ')', 'and', 'or', 'not', 'exists', '==', '!=', '<=', 'contains', 'startsWith', 'true', 'null', 'event_data.x', 'a.b-c', '"', '\\', '"\\q"', '"\\u12"', '"ok"', '-1.5e3'), fc.string({ maxLength: 6 }))
    const soup = fc.array(token, { maxLength: 60 }).map((ts) => ts.join(' '))
    fc.assert(fc.property(fc.oneof(fc.string({ maxLength: 200 }), soup), (s) => {
      let f: ReturnType<typeof compileFilter> | undefined
      tally.add(typedOutcome('compileFilter', ['InvalidSubscriptionError'], () => { f = compileFilter(s) }))
      // a filter that compiles evaluates any event without throwing
      if (f !== undefined) typedOutcome('a compiled filter', [], () => f!({ event_type: 'a', event_data: { x: 1, 'a': { b: [] } } }))
    }), { numRuns })
    tally.print()
  })

  it('a string literal with an escape JSON does not know is a filter error (found by the decoder fuzz: it threw SyntaxError)', () => {
    for (const f of ['event_type == "\\q"', 'a == "\\u12"']) {
      let error: unknown
      try { compileFilter(f) } catch (err) { error = err }
      expect((error as Error).name).toBe('InvalidSubscriptionError')
      expect((error as Error).message).toMatch(/is not a JSON string/)
    }
  })
})
