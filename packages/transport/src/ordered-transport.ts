import type { Transport, TransportSendOptions } from '@modelcontextprotocol/sdk/shared/transport.js'
import type { JSONRPCMessage, MessageExtraInfo } from '@modelcontextprotocol/sdk/types.js'

/**
 * Wraps a client-side `Transport` so that a response never overtakes the notifications that
 * arrived before it. The SDK runs notification handlers a microtask later but settles a
 * response at once, so a transport that hands over "progress, then result" in one tick loses
 * the last progress (mcp-node's decision 0063). After a notification, a response waits for the next
 * turn of the event loop; order is kept. The close of the inner transport waits too: a peer
 * that answers and then closes at once (a graceful shutdown) must not have its last response
 * dropped as "Connection closed".
 */
// setImmediate is Node's (also Bun's and Deno's); elsewhere a zero timeout is the next turn too.
const nextTurn: (fn: () => void) => void = typeof setImmediate === 'function' ? (fn) => { setImmediate(fn) } : (fn) => { setTimeout(fn, 0) }

export class OrderedTransport implements Transport {
  onclose?: () => void
  onerror?: (error: Error) => void
  onmessage?: <T extends JSONRPCMessage>(message: T, extra?: MessageExtraInfo) => void
  readonly inner: Transport
  private readonly queue: Array<{ message: JSONRPCMessage, extra: MessageExtraInfo | undefined }> = []
  private notifiedThisTurn = false
  private waiting = false
  private closePending = false

  constructor (inner: Transport) {
    this.inner = inner
    inner.onclose = () => {
      this.closePending = true
      if (!this.waiting) this.drain()
    }
    inner.onerror = (err) => { this.onerror?.(err) }
    inner.onmessage = (message, extra) => {
      this.queue.push({ message, extra })
      if (!this.waiting) this.drain()
    }
  }

  get sessionId (): string | undefined { return this.inner.sessionId }

  setProtocolVersion (version: string): void { this.inner.setProtocolVersion?.(version) }

  async start (): Promise<void> { await this.inner.start() }

  async send (message: JSONRPCMessage, options?: TransportSendOptions): Promise<void> { await this.inner.send(message, options) }

  async close (): Promise<void> { await this.inner.close() }

  private drain (): void {
    while (this.queue.length > 0) {
      const next = this.queue[0]!
      const isResponse = 'id' in next.message && !('method' in next.message)
      if (isResponse && this.notifiedThisTurn) {
        this.waiting = true
        nextTurn(() => {
          this.waiting = false
          this.notifiedThisTurn = false
          this.drain()
        })
        return
      }
      this.queue.shift()
      if (!('id' in next.message) && 'method' in next.message && !this.notifiedThisTurn) {
        this.notifiedThisTurn = true
        nextTurn(() => { this.notifiedThisTurn = false })
      }
      this.onmessage?.(next.message, next.extra)
    }
    if (this.closePending) {
      this.closePending = false
      this.onclose?.()
    }
  }
}
