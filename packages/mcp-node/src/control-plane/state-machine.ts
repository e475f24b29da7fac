import type { Entry, StateMachine } from '@p2p-mcp/consensus'
import { DEFAULT_DEDUP_WINDOW_MS, DEFAULT_MAX_DEDUP_ENTRIES, ENVELOPE_VERSION, TICK_MODULE } from './constants.js'
import { decodeEnvelope } from './envelope.js'
import { z } from 'zod'
import { firstIssue } from './codec-json.js'
import { ControlDecodeError, ControlPlaneHaltedError } from './errors.js'
import { reject } from './types.js'
import type { ApplyContext, ReplicatedModule } from './types.js'
import { errorMessage } from '../errors.js'

export interface ReplicatedStateMachineInit {
  /**
   * How long, in log time, an applied request id is remembered (a retry within it gets the first result).
   * @default 600000
   */
  dedupWindowMs?: number
  /**
   * Most request ids remembered; the oldest are forgotten first.
   * @default 20000
   */
  maxDedupEntries?: number
  /** Called once when the replica halts. */
  onHalt?: (err: ControlPlaneHaltedError) => void
  /** Called after each applied entry (module name, or `$tick`), for watches and surfaces. */
  onApplied?: (module: string, ctx: ApplyContext) => void
}

interface Remembered { at: number, result: unknown }

interface SnapshotFile {
  v: number
  index: number
  timeMs: number
  dedup: Array<[string, number, unknown]>
  modules: Record<string, string>
}

const SnapshotFileSchema: z.ZodType<SnapshotFile> = z.object({
  v: z.number().int().min(1), index: z.number().int().min(0), timeMs: z.number(),
  dedup: z.array(z.tuple([z.string(), z.number(), z.unknown()]).transform(([id, at, result]): [string, number, unknown] => [id, at, result])),
  modules: z.record(z.string(), z.string().regex(/^[A-Za-z0-9+/]*={0,2}$/, 'base64')),
})

/**
 * Decodes a snapshot of the whole state machine (a leader sends it in an InstallSnapshot):
 * a newer version is returned as far as its `v` and `index` (the caller halts on it); anything
 * that is not a snapshot throws `ControlDecodeError`.
 */
export function decodeSnapshotFile (data: Uint8Array): SnapshotFile {
  let value: unknown
  try {
    value = JSON.parse(strictDecoder.decode(data))
  } catch (err) {
    throw new ControlDecodeError(`the snapshot is not UTF-8 JSON: ${errorMessage(err)}`, { cause: err })
  }
  const v = (value as { v?: unknown } | null)?.v
  if (typeof v === 'number' && Number.isSafeInteger(v) && v > ENVELOPE_VERSION) {
    const index = (value as { index?: unknown }).index
    return { v, index: Number.isSafeInteger(index) ? index as number : 0, timeMs: 0, dedup: [], modules: {} }
  }
  const parsed = SnapshotFileSchema.safeParse(value)
  if (!parsed.success) throw new ControlDecodeError(`the snapshot is malformed: ${firstIssue(parsed.error)}`)
  return parsed.data
}

const encoder = new TextEncoder()
const strictDecoder = new TextDecoder('utf-8', { fatal: true })

/**
 * The control plane's one replicated state machine: decodes each entry's envelope, applies
 * its request id once, keeps log time monotonic, hands the command to its module, ticks every
 * module on a `$tick` entry, and snapshots all modules together. A replica that meets an
 * envelope or command version (or a module) it does not know halts: it applies nothing more,
 * so it can never diverge from replicas that understood the entry.
 */
export class ReplicatedStateMachine implements StateMachine {
  private readonly modules = new Map<string, ReplicatedModule>()
  private readonly dedup = new Map<string, Remembered>()
  private readonly dedupWindowMs: number
  private readonly maxDedupEntries: number
  private readonly onHalt: ((err: ControlPlaneHaltedError) => void) | undefined
  private readonly onApplied: ((module: string, ctx: ApplyContext) => void) | undefined
  private time = 0
  private index = 0
  private haltedWith: ControlPlaneHaltedError | undefined

  constructor (init: ReplicatedStateMachineInit = {}) {
    this.dedupWindowMs = init.dedupWindowMs ?? DEFAULT_DEDUP_WINDOW_MS
    this.maxDedupEntries = init.maxDedupEntries ?? DEFAULT_MAX_DEDUP_ENTRIES
    this.onHalt = init.onHalt
    this.onApplied = init.onApplied
  }

  /** Adds a module; all modules must be registered before the first entry is applied. */
  register (module: ReplicatedModule): void {
    if (this.modules.has(module.name)) throw new TypeError(`a module named ${JSON.stringify(module.name)} is already registered`)
    if (!Number.isSafeInteger(module.version) || module.version < 1) throw new TypeError(`module ${module.name}: version ${module.version} is not a positive integer`)
    this.modules.set(module.name, module)
  }

  module<M extends ReplicatedModule = ReplicatedModule>(name: string): M | undefined {
    return this.modules.get(name) as M | undefined
  }

  /** Log time of the last applied entry. */
  get timeMs (): number { return this.time }
  /** Index of the last applied entry. */
  get appliedIndex (): number { return this.index }
  /** Why this replica stopped applying, if it did. */
  get halted (): ControlPlaneHaltedError | undefined { return this.haltedWith }

  apply (entry: Entry): unknown {
    if (this.haltedWith !== undefined) return reject('ControlPlaneHaltedError', this.haltedWith.message)
    let env
    try {
      env = decodeEnvelope(entry.data)
    } catch (err) {
      // Every replica decodes the same bytes the same way: a malformed entry is rejected everywhere.
      this.index = entry.index
      return reject('ControlDecodeError', errorMessage(err))
    }
    if (env.v > ENVELOPE_VERSION) return this.halt(entry.index, `envelope version ${env.v} is newer than ${ENVELOPE_VERSION}, the newest this release knows`)
    const seen = this.dedup.get(env.id)
    if (seen !== undefined) {
      this.index = entry.index
      return seen.result
    }
    const module = env.module === TICK_MODULE ? undefined : this.modules.get(env.module)
    if (env.module !== TICK_MODULE) {
      if (module === undefined) return this.halt(entry.index, `module ${JSON.stringify(env.module)} is not known to this release (known: ${[...this.modules.keys()].join(', ')})`)
      if (env.cv > module.version) return this.halt(entry.index, `command version ${env.cv} of module ${module.name} is newer than ${module.version}, the newest this release knows`)
    }
    this.time = Math.max(this.time, env.at)
    this.index = entry.index
    const ctx: ApplyContext = { index: entry.index, timeMs: this.time, commandVersion: env.cv }
    let result: unknown
    try {
      if (module === undefined) {
        for (const m of this.modules.values()) m.tick?.(ctx)
        result = { ok: true, timeMs: this.time }
      } else {
        result = module.apply(env.cmd, ctx)
      }
    } catch (err) {
      // A module that throws may have changed half its state: stop rather than guess.
      return this.halt(entry.index, `module ${env.module} threw on its command: ${errorMessage(err)}`)
    }
    this.remember(env.id, result)
    this.onApplied?.(env.module, ctx)
    return result
  }

  private remember (id: string, result: unknown): void {
    this.dedup.set(id, { at: this.time, result })
    // Insertion order is log order, so the oldest ids come first.
    for (const [k, r] of this.dedup) {
      if (this.dedup.size <= this.maxDedupEntries && this.time - r.at <= this.dedupWindowMs) break
      this.dedup.delete(k)
    }
  }

  private halt (index: number, reason: string): unknown {
    this.haltedWith = new ControlPlaneHaltedError(index, reason)
    this.onHalt?.(this.haltedWith)
    return reject('ControlPlaneHaltedError', this.haltedWith.message)
  }

  snapshot (): Uint8Array {
    const file: SnapshotFile = {
      v: ENVELOPE_VERSION,
      index: this.index,
      timeMs: this.time,
      dedup: [...this.dedup].map(([id, r]) => [id, r.at, r.result]),
      modules: Object.fromEntries([...this.modules].map(([name, m]) => [name, Buffer.from(m.snapshot()).toString('base64')])),
    }
    return encoder.encode(JSON.stringify(file))
  }

  /**
   * Restores a snapshot. One that does not decode (or whose module state does not) halts this
   * replica, as an entry it cannot apply does: it must not run on with a state it does not have.
   */
  restore (data: Uint8Array): void {
    try {
      this.restoreFile(decodeSnapshotFile(data))
    } catch (err) {
      if ((err as Error).name !== 'ControlDecodeError') throw err
      this.halt(this.index, `a snapshot could not be restored: ${errorMessage(err)}`)
    }
  }

  private restoreFile (file: SnapshotFile): void {
    if (file.v > ENVELOPE_VERSION) {
      this.halt(file.index, `snapshot version ${file.v} is newer than ${ENVELOPE_VERSION}`)
      return
    }
    const unknown = Object.keys(file.modules).filter((name) => !this.modules.has(name))
    if (unknown.length > 0) {
      this.halt(file.index, `the snapshot holds modules this release does not know: ${unknown.join(', ')}`)
      return
    }
    this.index = file.index
    this.time = file.timeMs
    this.dedup.clear()
    for (const [id, at, result] of file.dedup) this.dedup.set(id, { at, result })
    for (const [name, m] of this.modules) {
      const b64 = file.modules[name]
      // A module added in this release starts empty from an older snapshot.
      m.restore(b64 === undefined ? new Uint8Array(0) : new Uint8Array(Buffer.from(b64, 'base64')))
    }
  }
}
