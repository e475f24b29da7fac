import type { Model, Operation } from './linearizability.js'

export type KvInput =
  | { op: 'get', key: string }
  | { op: 'put', key: string, value: string }
  | { op: 'append', key: string, value: string }
  | { op: 'cas', key: string, expected: string | undefined, value: string }

/** `{ value }` for get (undefined for a missing key), `{}` for put/append, `{ ok }` for cas. */
export interface KvOutput {
  value?: string | undefined
  ok?: boolean | undefined
}

export type KvOperation = Operation<KvInput, KvOutput>

/** Length plus the ends of the string: cheap on long appended values; equality settles collisions. */
function hashStr (s: string | undefined): number {
  if (s === undefined) return 0x9e3779b9
  let h = Math.imul(0x811c9dc5 ^ s.length, 0x01000193)
  const n = s.length
  const ends = n <= 48 ? s : s.slice(0, 16) + s.slice(n - 32)
  for (let i = 0; i < ends.length; i++) h = Math.imul(h ^ ends.charCodeAt(i), 0x01000193)
  return h >>> 0
}

/** A register per key, partitioned by key; the state of one partition is that key's value. */
export const kvModel: Model<string | undefined, KvInput, KvOutput> = {
  init: () => undefined,
  step (state, input, output) {
    switch (input.op) {
      case 'get':
        return [output === undefined || output.value === state, state]
      case 'put':
        return [true, input.value]
      case 'append':
        return [true, (state ?? '') + input.value]
      case 'cas':
        if (output === undefined) return [true, state === input.expected ? input.value : state]
        if (output.ok === true) return [state === input.expected, input.value]
        return [state !== input.expected, state]
    }
  },
  equal: (a, b) => a === b,
  hash: hashStr,
  partition (history) {
    const byKey = new Map<string, KvOperation[]>()
    for (const op of history) {
      let list = byKey.get(op.input.key)
      if (list === undefined) { list = []; byKey.set(op.input.key, list) }
      list.push(op)
    }
    return [...byKey.values()]
  },
  prune (part) {
    // A failed compare-and-set observes "some other value was there" without naming it, so
    // an unknown write that could precede one may be what it saw: keep those.
    let lastFailedCas = -Infinity
    const seen: string[] = []
    for (const o of part) {
      if (o.input.op === 'cas' && o.output?.ok === false) lastFailedCas = Math.max(lastFailedCas, o.return)
      if (o.input.op === 'get' && o.output?.value !== undefined) seen.push(o.output.value)
      if (o.input.op === 'cas' && o.input.expected !== undefined && o.output !== undefined) seen.push(o.input.expected)
    }
    return part.filter(o => {
      if (o.return !== Infinity || o.input.op === 'get' || o.call < lastFailedCas) return true
      const v = o.input.value
      return seen.some(s => s.includes(v))
    })
  }
}
