import { kvModel } from '../check/kv-model.js'
import type { KvInput, KvOutput } from '../check/kv-model.js'
import { checkLinearizability } from '../check/linearizability.js'
import type { Entry, StateMachine } from '../types.js'
import type { SimWorkload } from './workload.js'

const enc = new TextEncoder()
const dec = new TextDecoder()

/**
 * A key-value state machine. A forwarded proposal can be duplicated by the network and
 * appended twice, so it applies each request id (entry ctx) once (client sessions, thesis §6.3).
 */
export class KvStateMachine implements StateMachine {
  kv = new Map<string, string>()

  apply (e: Entry): KvOutput {
    if (e.ctx !== undefined) {
      const key = `\u0000ctx:${e.ctx}`
      const prior = this.kv.get(key)
      if (prior !== undefined) return JSON.parse(prior) as KvOutput
    }
    const out = this.applyOp(JSON.parse(dec.decode(e.data)) as KvInput)
    if (e.ctx !== undefined) this.kv.set(`\u0000ctx:${e.ctx}`, JSON.stringify(out))
    return out
  }

  get (key: string): string | undefined { return this.kv.get(key) }

  snapshot (): Uint8Array { return enc.encode(JSON.stringify([...this.kv])) }

  restore (data: Uint8Array): void {
    this.kv = data.byteLength === 0 ? new Map<string, string>() : new Map(JSON.parse(dec.decode(data)) as Array<[string, string]>)
  }

  private applyOp (input: KvInput): KvOutput {
    const kv = this.kv
    switch (input.op) {
      case 'put': kv.set(input.key, input.value); return {}
      case 'append': kv.set(input.key, (kv.get(input.key) ?? '') + input.value); return {}
      case 'cas': {
        const ok = kv.get(input.key) === input.expected
        if (ok) kv.set(input.key, input.value)
        return { ok }
      }
      default: return { value: kv.get(input.key) }
    }
  }
}

export interface KvWorkloadInit {
  /** @default 5 */
  keys?: number
  /** Used to draw plausible `expected` values of compare-and-set. @default 10 */
  clients?: number
}

/** The key-value workload: 35% get, 25% put, 20% append, 20% cas over a few keys; linearizability checked per key. */
export function kvWorkload (init: KvWorkloadInit = {}): SimWorkload<KvInput, KvOutput> {
  const nKeys = init.keys ?? 5
  const nClients = init.clients ?? 10
  return {
    createStateMachine: () => new KvStateMachine(),
    nextOp (client, rng, seq) {
      const key = `k${Math.floor(rng() * nKeys)}`
      const r = rng()
      const value = `${client}.${seq}`
      if (r < 0.35) return { op: 'get', key }
      if (r < 0.6) return { op: 'put', key, value }
      if (r < 0.8) return { op: 'append', key, value: `,${value}` }
      return { op: 'cas', key, expected: rng() < 0.5 ? undefined : `${Math.floor(rng() * nClients)}.${Math.max(1, seq - Math.floor(rng() * 20))}`, value }
    },
    isRead: input => input.op === 'get',
    encode: input => enc.encode(JSON.stringify(input)),
    read: (sm, input) => ({ value: (sm as KvStateMachine).get(input.key) }),
    output: (result: unknown): KvOutput => (result as KvOutput | undefined) ?? {},
    probe: seed => ({ op: 'put', key: '__probe', value: String(seed) }),
    check (history, options) {
      const result = checkLinearizability(kvModel, history, options)
      return { ok: result.ok, violation: result.ok === false ? `linearizability: history of key ${result.counterexample?.[0]?.input.key ?? '?'} is not linearizable` : undefined }
    }
  }
}
