import { MAX_FILTER_DEPTH, MAX_FILTER_LENGTH, MAX_TOPIC_LENGTH, MAX_TOPIC_SEGMENTS } from './constants.js'
import { InvalidSubscriptionError } from './errors.js'

const PATTERN_SEGMENT = /^([a-z0-9_-]{1,64}|\*|#)$/

/**
 * A compiled topic pattern: dot-separated segments where `*` matches exactly one segment and
 * `#` zero or more (AMQP style): `mesh.peer.*` matches `mesh.peer.joined`, `workflow.#`
 * matches `workflow` and `workflow.task.done`.
 */
export type TopicMatcher = (topic: string) => boolean

export function compileTopic (pattern: string): TopicMatcher {
  if (pattern.length === 0 || pattern.length > MAX_TOPIC_LENGTH) throw new InvalidSubscriptionError('topic pattern', pattern, `1 to ${MAX_TOPIC_LENGTH} characters`)
  const parts = pattern.split('.')
  if (parts.length > MAX_TOPIC_SEGMENTS || !parts.every((p) => PATTERN_SEGMENT.test(p))) {
    throw new InvalidSubscriptionError('topic pattern', pattern, 'segments of [a-z0-9_-], or * (one segment), or # (any number), joined by dots')
  }
  if (!parts.includes('#') && !parts.includes('*')) return (topic) => topic === pattern
  return (topic) => matchSegments(parts, 0, topic.split('.'), 0)
}

function matchSegments (pattern: string[], i: number, topic: string[], j: number): boolean {
  while (i < pattern.length) {
    const p = pattern[i]!
    if (p === '#') {
      // Bounded: at most 16 segments each side.
      for (let k = j; k <= topic.length; k++) if (matchSegments(pattern, i + 1, topic, k)) return true
      return false
    }
    if (j >= topic.length) return false
    if (p !== '*' && p !== topic[j]) return false
    i++
    j++
  }
  return j === topic.length
}

/** Any of several patterns. */
export function compileTopics (patterns: readonly string[]): TopicMatcher {
  const matchers = patterns.map(compileTopic)
  return (topic) => matchers.some((m) => m(topic))
}

// ---- filter expressions ---------------------------------------------------------------
//
//   expr    := or
//   or      := and ('or' and)*
//   and     := unary ('and' unary)*
//   unary   := 'not' unary | '(' expr ')' | cmp | 'exists' '(' path ')'
//   cmp     := path op literal          op: == != < <= > >= contains startsWith
//   path    := name ('.' name)*         names of event fields: event_data.server, source, ...
//   literal := "string" | number | true | false | null
//
// A path that does not resolve compares unequal to everything (and `!=` is then true).

type Node =
  | { k: 'or' | 'and', a: Node, b: Node }
  | { k: 'not', a: Node }
  | { k: 'exists', path: string[] }
  | { k: 'cmp', path: string[], op: string, value: unknown }

/** A compiled filter: true when the event passes. */
export type EventFilter = (event: Record<string, unknown>) => boolean

const TOKEN = /\s*(?:("(?:[^"\\]|\\.)*")|(-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?)|(==|!=|<=|>=|<|>|\(|\))|([A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z0-9_-]+)*))/y
const OPS = new Set(['==', '!=', '<', '<=', '>', '>=', 'contains', 'startsWith'])

export function compileFilter (text: string): EventFilter {
  if (text.length > MAX_FILTER_LENGTH) throw new InvalidSubscriptionError('filter', text, `over ${MAX_FILTER_LENGTH} characters`)
  const tokens: Array<{ t: 'str' | 'num' | 'sym' | 'word', v: string }> = []
  TOKEN.lastIndex = 0
  while (TOKEN.lastIndex < text.length) {
    if (/^\s*$/.test(text.slice(TOKEN.lastIndex))) break
    const at = TOKEN.lastIndex
    const m = TOKEN.exec(text)
    if (m === null) throw new InvalidSubscriptionError('filter', text, `unexpected character at ${at}`)
    if (m[1] !== undefined) tokens.push({ t: 'str', v: m[1] })
    else if (m[2] !== undefined) tokens.push({ t: 'num', v: m[2] })
    else if (m[3] !== undefined) tokens.push({ t: 'sym', v: m[3] })
    else tokens.push({ t: 'word', v: m[4]! })
  }
  let pos = 0
  const fail = (why: string): never => { throw new InvalidSubscriptionError('filter', text, why) }
  const peek = (): { t: string, v: string } | undefined => tokens[pos]
  const isWord = (w: string): boolean => peek()?.t === 'word' && peek()?.v === w
  const literal = (): unknown => {
    const tok = tokens[pos++] ?? fail('a value is missing at the end')
    if (tok.t === 'str') {
      // The tokenizer takes any backslash escape; JSON knows fewer (\q, a short \u): say so, as a filter error.
      try { return JSON.parse(tok.v) as string } catch { return fail(`${tok.v} is not a JSON string (escapes: \\" \\\\ \\/ \\b \\f \\n \\r \\t \\uXXXX)`) }
    }
    if (tok.t === 'num') return Number(tok.v)
    if (tok.t === 'word' && (tok.v === 'true' || tok.v === 'false' || tok.v === 'null')) return JSON.parse(tok.v) as unknown
    return fail(`expected a value, found ${tok.v}`)
  }
  const unary = (depth: number): Node => {
    if (depth > MAX_FILTER_DEPTH) fail(`nested deeper than ${MAX_FILTER_DEPTH}`)
    const tok = peek() ?? fail('an expression is missing at the end')
    if (tok.t === 'word' && tok.v === 'not') { pos++; return { k: 'not', a: unary(depth + 1) } }
    if (tok.t === 'sym' && tok.v === '(') {
      pos++
      const e = or(depth + 1)
      if (peek()?.v !== ')') fail('a ) is missing')
      pos++
      return e
    }
    if (tok.t === 'word' && tok.v === 'exists' && tokens[pos + 1]?.v === '(') {
      pos += 2
      const p = tokens[pos++]
      if (p?.t !== 'word' || tokens[pos]?.v !== ')') fail('exists takes one field path: exists(event_data.x)')
      pos++
      return { k: 'exists', path: p!.v.split('.') }
    }
    if (tok.t !== 'word') fail(`expected a field path, found ${tok.v}`)
    pos++
    const op = tokens[pos++] ?? fail(`an operator is missing after ${tok.v}`)
    if (!OPS.has(op.v)) fail(`unknown operator ${op.v} (use == != < <= > >= contains startsWith)`)
    return { k: 'cmp', path: tok.v.split('.'), op: op.v, value: literal() }
  }
  const and = (depth: number): Node => {
    let a = unary(depth)
    while (isWord('and')) { pos++; a = { k: 'and', a, b: unary(depth) } }
    return a
  }
  const or = (depth: number): Node => {
    let a = and(depth)
    while (isWord('or')) { pos++; a = { k: 'or', a, b: and(depth) } }
    return a
  }
  if (tokens.length === 0) return () => true
  const tree = or(0)
  if (pos !== tokens.length) fail(`unexpected ${tokens[pos]!.v}`)
  return (event) => evaluate(tree, event)
}

function resolve (event: Record<string, unknown>, path: string[]): unknown {
  let cur: unknown = event
  for (const name of path) {
    if (typeof cur !== 'object' || cur === null || !Object.hasOwn(cur, name)) return undefined
    cur = (cur as Record<string, unknown>)[name]
  }
  return cur
}

function evaluate (node: Node, event: Record<string, unknown>): boolean {
  switch (node.k) {
    case 'or': return evaluate(node.a, event) || evaluate(node.b, event)
    case 'and': return evaluate(node.a, event) && evaluate(node.b, event)
    case 'not': return !evaluate(node.a, event)
    case 'exists': return resolve(event, node.path) !== undefined
    case 'cmp': return compare(resolve(event, node.path), node.op, node.value)
  }
}

function compare (left: unknown, op: string, right: unknown): boolean {
  if (left === undefined) return op === '!='
  switch (op) {
    case '==': return left === right
    case '!=': return left !== right
    case 'contains':
      if (typeof left === 'string' && typeof right === 'string') return left.includes(right)
      return Array.isArray(left) && left.includes(right)
    case 'startsWith': return typeof left === 'string' && typeof right === 'string' && left.startsWith(right)
  }
  const comparable = (typeof left === 'number' && typeof right === 'number') || (typeof left === 'string' && typeof right === 'string')
  if (!comparable) return false
  const l = left
  const r = right
  return op === '<' ? l < r : op === '<=' ? l <= r : op === '>' ? l > r : l >= r
}
