import type { Message, NodeId, RaftTransport } from '../types.js'

/**
 * An in-process network for RaftNode: per-peer FIFO delivery on a later macrotask, with
 * links that can be cut in one direction (asymmetric partitions) for tests.
 */
export class MemoryNetwork {
  private readonly handlers = new Map<NodeId, (m: Message) => void>()
  private readonly cut = new Set<string>()
  private queue: Message[] = []
  private scheduled = false
  /** Messages delivered so far. */
  delivered = 0

  /** The transport of node `id` on this network. */
  transport (id: NodeId): RaftTransport {
    return {
      start: async (onMessage) => {
        this.handlers.set(id, onMessage)
        await Promise.resolve()
      },
      send: (messages) => {
        for (const m of messages) if (m.from === id) this.queue.push(m)
        this.schedule()
      },
      stop: async () => {
        this.handlers.delete(id)
        await Promise.resolve()
      }
    }
  }

  /** Cuts the link from → to (call twice, swapped, for a symmetric cut). */
  disconnect (from: NodeId, to: NodeId): void { this.cut.add(`${from}>${to}`) }

  /** Isolates a node in both directions from every other. */
  isolate (id: NodeId, others: NodeId[]): void {
    for (const o of others) {
      if (o === id) continue
      this.disconnect(id, o)
      this.disconnect(o, id)
    }
  }

  heal (): void { this.cut.clear() }

  private schedule (): void {
    if (this.scheduled) return
    this.scheduled = true
    setImmediate(() => {
      this.scheduled = false
      const batch = this.queue
      this.queue = []
      for (const m of batch) {
        if (this.cut.has(`${m.from}>${m.to}`)) continue
        const h = this.handlers.get(m.to)
        if (h === undefined) continue
        this.delivered++
        h(m)
      }
    })
  }
}
