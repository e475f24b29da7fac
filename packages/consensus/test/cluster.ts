import { RaftCore } from '../src/core/raft-core.js'
import { MemoryStorage } from '../src/storage/memory-storage.js'
import type { Entry, Message, RaftCoreInit, ReadState } from '../src/types.js'
import { MutantCore } from './support/mutant-core.js'
import type { Mutation } from './support/mutant-core.js'

/**
 * A synchronous test network of cores: each Ready is persisted at once, messages are queued
 * and delivered in order, unless a link is cut, a node is down or `drop` says so.
 */
export class Cluster {
  readonly cores = new Map<string, RaftCore>()
  readonly stores = new Map<string, MemoryStorage>()
  readonly applied = new Map<string, Entry[]>()
  readonly reads = new Map<string, ReadState[]>()
  readonly sent: Message[] = []
  readonly cut = new Set<string>()
  readonly down = new Set<string>()
  drop: ((m: Message) => boolean) | undefined
  private queue: Message[] = []
  private readonly opts: Partial<RaftCoreInit>
  private readonly mutation: Mutation | undefined

  constructor (ids: string[], opts: Partial<RaftCoreInit> & { mutation?: Mutation | undefined } = {}, learners: string[] = []) {
    const { mutation, ...rest } = opts
    this.opts = rest
    this.mutation = mutation
    for (const id of [...ids, ...learners]) this.addNode(id, new MemoryStorage({ voters: ids, learners }))
  }

  addNode (id: string, store: MemoryStorage): RaftCore {
    this.stores.set(id, store)
    const init: RaftCoreInit = { electionTicks: 10, heartbeatTicks: 1, ...this.opts, id, storage: store, seed: this.cores.size + 1 }
    const core = this.mutation === undefined ? new RaftCore(init) : new MutantCore(init, this.mutation)
    this.cores.set(id, core)
    if (!this.applied.has(id)) this.applied.set(id, [])
    if (!this.reads.has(id)) this.reads.set(id, [])
    return core
  }

  core (id: string): RaftCore { return this.cores.get(id)! }

  /** Drains every node's Ready, then delivers queued messages, until nothing moves. */
  flush (limit = 100_000): void {
    for (let i = 0; i < limit; i++) {
      let moved = false
      for (const [id, c] of this.cores) {
        if (this.down.has(id)) continue
        while (c.hasReady()) {
          moved = true
          const rd = c.ready()
          this.stores.get(id)!.write({ entries: rd.entries, hardState: rd.hardState, snapshot: rd.snapshot })
          for (const m of [...rd.earlyMessages, ...rd.messages]) { this.sent.push(m); this.queue.push(m) }
          if (rd.snapshot !== undefined) this.applied.set(id, [])
          for (const e of rd.committedEntries) this.applied.get(id)!.push(e)
          for (const r of rd.readStates) this.reads.get(id)!.push(r)
          c.advance()
        }
      }
      const batch = this.queue
      this.queue = []
      for (const m of batch) {
        moved = true
        if (this.down.has(m.to) || this.cut.has(`${m.from}>${m.to}`) || this.drop?.(m) === true) continue
        this.cores.get(m.to)?.step(m)
      }
      if (!moved) return
    }
    throw new Error('network did not settle')
  }

  /** Ticks every live node (or the given ones) n times, flushing after each round. */
  tick (n = 1, only?: string[]): void {
    for (let i = 0; i < n; i++) {
      for (const [id, c] of this.cores) if (!this.down.has(id) && (only === undefined || only.includes(id))) c.tick()
      this.flush()
    }
  }

  elect (id: string): void {
    this.core(id).campaign()
    this.flush()
  }

  isolate (id: string): void {
    for (const o of this.cores.keys()) {
      if (o === id) continue
      this.cut.add(`${id}>${o}`)
      this.cut.add(`${o}>${id}`)
    }
  }

  heal (): void { this.cut.clear() }

  /** Restarts a node from what its storage holds. */
  restart (id: string): RaftCore {
    this.down.delete(id)
    const old = this.core(id)
    const c = new RaftCore({ electionTicks: 10, heartbeatTicks: 1, ...this.opts, id, storage: this.stores.get(id)!, seed: old.term * 31 + [...this.cores.keys()].indexOf(id) + 99 })
    this.cores.set(id, c)
    this.applied.set(id, [])
    return c
  }

  leaders (): string[] {
    return [...this.cores].filter(([id, c]) => !this.down.has(id) && c.role === 'leader').map(([id]) => id)
  }

  propose (id: string, text: string): void {
    this.core(id).propose(new TextEncoder().encode(text))
    this.flush()
  }

  /** The non-empty payloads node id applied, as text. */
  data (id: string): string[] {
    return this.applied.get(id)!.filter(e => e.type === 'normal' && e.data.byteLength > 0).map(e => new TextDecoder().decode(e.data))
  }
}
