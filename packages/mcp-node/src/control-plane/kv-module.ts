import { z } from 'zod'
import { firstIssue, fromJsonBytes, toJsonBytes } from './codec-json.js'
import { reject } from './types.js'
import type { ApplyContext, ReplicatedModule } from './types.js'

/** A stored value with its versions (etcd-like: version counts changes of this key). */
export interface KvEntry {
  value: unknown
  /** 1 on creation, +1 on every put. */
  version: number
  createIndex: number
  modIndex: number
  modTimeMs: number
}

type KvRows = Array<[string, Array<[string, KvEntry]>]>
/** A kv snapshot, as another replica may send it: `[namespace, [key, entry][]][]`. */
const KvSnapshotSchema: z.ZodType<KvRows> = z.array(z.tuple([z.string(), z.array(z.tuple([z.string(), z.object({
  value: z.unknown(), version: z.number(), createIndex: z.number(), modIndex: z.number(), modTimeMs: z.number(),
}).transform(({ value, ...e }): KvEntry => ({ value, ...e }))]))]))

/** What a watcher is told after a change is applied on this replica. */
export interface KvEvent {
  type: 'put' | 'delete'
  ns: string
  key: string
  entry?: KvEntry
  index: number
}

export const KV_LIMITS = {
  maxKeys: 10_000,
  maxKeyLength: 512,
  maxValueBytes: 64 * 1024,
  maxWatchers: 1_024,
} as const

const ns = z.string().regex(/^[a-z0-9][a-z0-9._-]{0,63}$/, 'a namespace: 1 to 64 of a-z 0-9 . _ -')
const key = z.string().min(1).max(KV_LIMITS.maxKeyLength)

const KvCommandSchema = z.discriminatedUnion('op', [
  z.strictObject({
    op: z.literal('put'), ns, key, value: z.json(),
    /** Compare-and-set: 0 means the key must not exist. */
    expectVersion: z.number().int().min(0).optional(),
  }),
  z.strictObject({ op: z.literal('delete'), ns, key, expectVersion: z.number().int().min(1).optional() }),
])

export type KvCommand = z.input<typeof KvCommandSchema>

type Watcher = { ns: string, prefix: string, listener: (e: KvEvent) => void }

/**
 * The `kv` module: a small namespaced key-value store with compare-and-set (on the key's
 * version) and watches (called on every replica after the change is applied here).
 */
export class KvModule implements ReplicatedModule {
  readonly name = 'kv'
  readonly version = 1
  private data = new Map<string, Map<string, KvEntry>>()
  private keys = 0
  private readonly watchers = new Set<Watcher>()

  get (namespace: string, k: string): KvEntry | undefined {
    return this.data.get(namespace)?.get(k)
  }

  /** Keys of `namespace` starting with `prefix`, sorted. */
  list (namespace: string, prefix = ''): Array<{ key: string } & KvEntry> {
    const m = this.data.get(namespace)
    if (m === undefined) return []
    return [...m].filter(([k]) => k.startsWith(prefix)).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([k, e]) => ({ key: k, ...e }))
  }

  /** Calls `listener` after each change of a key of `namespace` starting with `prefix`; returns the unsubscribe function. */
  watch (namespace: string, prefix: string, listener: (e: KvEvent) => void): () => void {
    if (this.watchers.size >= KV_LIMITS.maxWatchers) throw new RangeError(`${KV_LIMITS.maxWatchers} watches are open on this peer, the most allowed: close one first`)
    const w = { ns: namespace, prefix, listener }
    this.watchers.add(w)
    return () => { this.watchers.delete(w) }
  }

  apply (command: unknown, ctx: ApplyContext): unknown {
    const parsed = KvCommandSchema.safeParse(command)
    if (!parsed.success) return reject('InvalidCommandError', `kv command: ${firstIssue(parsed.error)}`)
    const c = parsed.data
    const space = this.data.get(c.ns)
    const current = space?.get(c.key)
    const have = current?.version ?? 0
    if (c.expectVersion !== undefined && c.expectVersion !== have) {
      return reject('VersionMismatchError', `${c.ns}/${c.key} is at version ${have}, not ${c.expectVersion}`)
    }
    if (c.op === 'delete') {
      if (current === undefined) return { ok: true, deleted: false }
      space!.delete(c.key)
      if (space!.size === 0) this.data.delete(c.ns)
      this.keys--
      this.notify({ type: 'delete', ns: c.ns, key: c.key, index: ctx.index })
      return { ok: true, deleted: true }
    }
    const bytes = Buffer.byteLength(JSON.stringify(c.value))
    if (bytes > KV_LIMITS.maxValueBytes) return reject('ValueTooLargeError', `value of ${c.ns}/${c.key} is ${bytes} bytes of JSON, more than ${KV_LIMITS.maxValueBytes}`)
    if (current === undefined && this.keys >= KV_LIMITS.maxKeys) return reject('TooManyKeysError', `the store holds ${KV_LIMITS.maxKeys} keys, the most allowed: delete some first`)
    const entry: KvEntry = { value: c.value, version: have + 1, createIndex: current?.createIndex ?? ctx.index, modIndex: ctx.index, modTimeMs: ctx.timeMs }
    if (space === undefined) this.data.set(c.ns, new Map([[c.key, entry]]))
    else space.set(c.key, entry)
    if (current === undefined) this.keys++
    this.notify({ type: 'put', ns: c.ns, key: c.key, entry, index: ctx.index })
    return { ok: true, version: entry.version }
  }

  private notify (e: KvEvent): void {
    for (const w of this.watchers) {
      if (w.ns !== e.ns || !e.key.startsWith(w.prefix)) continue
      try { w.listener(e) } catch { /* a watcher's failure is its own */ }
    }
  }

  snapshot (): Uint8Array {
    return toJsonBytes([...this.data].map(([n, m]) => [n, [...m]]))
  }

  restore (data: Uint8Array): void {
    const rows = fromJsonBytes(data, KvSnapshotSchema, 'kv') ?? []
    this.data = new Map(rows.map(([n, m]) => [n, new Map(m)]))
    this.keys = rows.reduce((s, [, m]) => s + m.length, 0)
  }
}
