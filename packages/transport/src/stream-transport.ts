import type { JSONRPCMessage, MessageExtraInfo, RequestId } from '@modelcontextprotocol/sdk/types.js'
import type { AuthInfo } from '@modelcontextprotocol/sdk/server/auth/types.js'
import type { PeerId, Stream, StreamCloseEvent, StreamMessageEvent } from '@libp2p/interface'
import { DEFAULT_CLOSE_TIMEOUT_MS, LIMIT_REFUSED_CODE, MAX_TRACKED_SUBSCRIPTIONS, SEND_HIGH_WATER_MARK_BYTES } from './constants.js'
import {
  FrameTooLargeError, IdleTimeoutError, InFlightLimitError, InvalidFrameError, InvalidMessageError, SendQueueFullError, TransportClosedError,
  errorMessage,
} from './errors.js'
import { FrameDecoder, FrameEncoder } from './frame.js'
import { checkJsonRpc } from './json-rpc.js'
import type { Logger, McpTransport } from './types.js'
import { noopLogger } from './logger.js'

/** Runs `fn` once the current I/O callbacks are done: one flush then carries every frame queued meanwhile. */
const scheduleFlush: (fn: () => void) => void = typeof globalThis.setImmediate === 'function'
  ? (fn) => { globalThis.setImmediate(fn) }
  : queueMicrotask

export interface StreamTransportInit {
  maxFrameBytes: number
  idleTimeoutMs: number
  remotePeer: PeerId
  /** Set on the serving side only: the SDK client skips `initialize` when it sees one. */
  sessionId?: string
  /** Passed with every incoming message (serving side), so that tool handlers see the peer. */
  authInfo?: AuthInfo
  logger?: Logger
  /** Requests from the remote in flight at once; more are answered with `LIMIT_REFUSED_CODE` and not delivered (0: no bound). */
  maxInFlight?: number
  /** Bytes queued for the remote above which the stream is reset with `SendQueueFullError` (0: no bound). */
  maxQueuedBytes?: number
}

/**
 * An MCP `Transport` over one libp2p stream: varint length-prefixed UTF-8 JSON frames.
 * Outgoing messages are queued and written once per event-loop turn as one buffer;
 * incoming frames are decoded in place from the stream's chunks.
 */
export class StreamTransport implements McpTransport {
  onclose?: () => void
  onerror?: (error: Error) => void
  onmessage?: <T extends JSONRPCMessage>(message: T, extra?: MessageExtraInfo) => void
  sessionId?: string
  readonly remotePeer: PeerId

  readonly #stream: Stream
  readonly #maxFrameBytes: number
  readonly #idleTimeoutMs: number
  readonly #maxInFlight: number
  readonly #maxQueuedBytes: number
  readonly #extra: MessageExtraInfo | undefined
  readonly #log: Logger
  readonly #decoder: FrameDecoder
  readonly #encoder = new FrameEncoder()
  readonly #utf8 = new TextDecoder('utf-8', { fatal: true })

  #queue: string[] = []
  // Decoded messages not yet handed to onmessage, and whether a microtask will hand them on.
  #inbox: JSONRPCMessage[] = []
  #inboxHead = 0
  #deliveryScheduled = false
  #queuedChars = 0
  #flushScheduled = false
  #drain: Promise<void> | undefined
  #started = false
  #closing = false
  #closed = false
  #abortedWith: Error | undefined // reported already: not reported again by the close event

  // Idle bookkeeping (requests in flight either way, subscriptions, last frame): always kept,
  // for the idle timeout, the in-flight bound and the choice of a session to evict.
  #lastActivity = performance.now()
  #idleTimer: ReturnType<typeof setTimeout> | undefined
  readonly #inboundRequests = new Set<RequestId>()
  readonly #outboundRequests = new Set<RequestId>()
  // Resources the remote subscribed to here: a session holding one is waiting for updates, not idle.
  readonly #pendingSubscribes = new Map<RequestId, string>()
  readonly #subscriptions = new Set<string>()
  #used = false

  constructor (stream: Stream, init: StreamTransportInit) {
    this.#stream = stream
    this.remotePeer = init.remotePeer
    this.#maxFrameBytes = init.maxFrameBytes
    this.#idleTimeoutMs = init.idleTimeoutMs
    this.#maxInFlight = init.maxInFlight ?? 0
    this.#maxQueuedBytes = init.maxQueuedBytes ?? 0
    this.#extra = init.authInfo === undefined ? undefined : { authInfo: init.authInfo }
    this.#log = init.logger ?? noopLogger
    this.#decoder = new FrameDecoder(init.maxFrameBytes)
    if (init.sessionId !== undefined) this.sessionId = init.sessionId
    // Data buffered before start() must not reset the stream at libp2p's 4 MiB default.
    stream.maxReadBufferLength = Math.max(stream.maxReadBufferLength, init.maxFrameBytes * 2 + 16)
  }

  start (): Promise<void> {
    if (this.#started) return Promise.resolve()
    this.#started = true
    const stream = this.#stream
    stream.addEventListener('message', this.#onMessage)
    stream.addEventListener('remoteCloseWrite', this.#onRemoteCloseWrite)
    stream.addEventListener('close', this.#onClose)
    if (this.#idleTimeoutMs > 0) {
      this.#lastActivity = performance.now()
      this.#armIdle(this.#idleTimeoutMs)
    }
    // Listeners added after the fact never hear of a close that already happened.
    if (stream.status !== 'open') this.#finish(undefined)
    else if (stream.remoteWriteStatus === 'closed' && stream.readBufferLength === 0) void this.close()
    return Promise.resolve()
  }

  async send (message: JSONRPCMessage): Promise<void> {
    if (this.#closing) throw new TransportClosedError(this.sessionId)
    const text = JSON.stringify(message)
    if (text.length * 3 > this.#maxFrameBytes) {
      const bytes = text.length > this.#maxFrameBytes ? text.length : FrameEncoder.byteLength(text)
      if (bytes > this.#maxFrameBytes) throw new FrameTooLargeError(bytes, this.#maxFrameBytes, 'sent')
    }
    // Activity from now, not from when the queue flushes: answering the last request in flight
    // makes the session idle at once, and an idle check between here and the flush must not
    // measure the quiet from the request's arrival (a long call was closed right after it).
    this.#lastActivity = performance.now()
    this.#trackOutgoing(message)
    this.#enqueue(text)
    if (this.#drain !== undefined || this.#queuedChars > SEND_HIGH_WATER_MARK_BYTES || this.#stream.writableNeedsDrain) await this.#whenDrained()
  }

  /** True when nothing is in flight either way and the remote holds no subscription here. */
  get idle (): boolean {
    return this.#inboundRequests.size === 0 && this.#outboundRequests.size === 0 && this.#subscriptions.size === 0 && this.#pendingSubscribes.size === 0
  }

  /** True once the remote sent a request other than `initialize` and `ping`: the session did some work. */
  get used (): boolean {
    return this.#used
  }

  /** When the last frame went either way (a `performance.now()` time: monotonic, below the millisecond). */
  get lastActivity (): number {
    return this.#lastActivity
  }

  /** Closes the session after telling `onerror` why (an eviction, a refusal). */
  async closeWith (reason: Error): Promise<void> {
    if (this.#closing) return
    this.onerror?.(reason)
    await this.close()
  }

  /**
   * Queues a frame; past `maxQueuedBytes` (ours plus the stream's write buffer) the remote is
   * not reading: the stream is reset and the error thrown.
   */
  #enqueue (text: string): void {
    this.#queue.push(text)
    this.#queuedChars += text.length
    if (this.#maxQueuedBytes > 0) {
      const queued = this.#queuedChars + this.#stream.writeBufferLength
      if (queued > this.#maxQueuedBytes) {
        const err = new SendQueueFullError(this.sessionId, queued, this.#maxQueuedBytes)
        this.#fail(err)
        throw err
      }
    }
    if (!this.#flushScheduled) {
      this.#flushScheduled = true
      scheduleFlush(this.#flush)
    }
  }

  async close (): Promise<void> {
    if (this.#closing) return
    this.#closing = true
    this.#flush()
    const stream = this.#stream
    if (stream.status === 'open' && stream.writeStatus === 'writable') {
      try {
        await stream.close({ signal: AbortSignal.timeout(DEFAULT_CLOSE_TIMEOUT_MS) })
      } catch (err) {
        stream.abort(err as Error)
      }
    }
    this.#finish(undefined)
  }

  readonly #flush = (): void => {
    this.#flushScheduled = false
    if (this.#queue.length === 0 || this.#closed) return
    if (this.#drain !== undefined && !this.#closing) return // the drain handler flushes
    const frames = this.#queue
    this.#queue = []
    this.#queuedChars = 0
    const stream = this.#stream
    if (stream.writeStatus !== 'writable') {
      this.#fail(new TransportClosedError(this.sessionId))
      return
    }
    try {
      this.#lastActivity = performance.now()
      if (!stream.send(this.#encoder.encode(frames))) this.#armDrain()
    } catch (err) {
      this.#fail(err as Error)
    }
  }

  /**
   * Waits for the stream's next 'drain' event. Not `stream.onDrain()`: in @libp2p/utils 7.4
   * its promise is never renewed, so after the first drain it resolves at once for ever and
   * a wait loop on it spins.
   */
  #armDrain (): void {
    if (this.#drain !== undefined) return
    const stream = this.#stream
    this.#drain = new Promise<void>((resolve, reject) => {
      const onDrain = (): void => {
        cleanup()
        // The stream's own drain listener resumes sending in a microtask; look after it.
        queueMicrotask(resolve)
      }
      const onClose = (evt: StreamCloseEvent): void => {
        cleanup()
        reject(evt.error ?? new TransportClosedError(this.sessionId))
      }
      const cleanup = (): void => {
        stream.removeEventListener('drain', onDrain)
        stream.removeEventListener('close', onClose)
      }
      stream.addEventListener('drain', onDrain)
      stream.addEventListener('close', onClose)
    }).then(() => {
      this.#drain = undefined
      this.#flush()
    }, (err: unknown) => {
      this.#drain = undefined
      this.#fail(err as Error)
    })
  }

  /**
   * Resolves once the stream stops asking for a drain. Yamux emits 'drain' on every window
   * update while bytes are still queued, so one drain is not enough: wait until the
   * stream's own `writableNeedsDrain` is clear.
   */
  async #whenDrained (): Promise<void> {
    if (this.#drain === undefined) this.#flush()
    for (;;) {
      if (this.#drain === undefined) {
        if (!this.#stream.writableNeedsDrain || this.#closed) return
        this.#armDrain()
      }
      await this.#drain
      if (this.#closed) throw new TransportClosedError(this.sessionId)
    }
  }

  readonly #onMessage = (evt: StreamMessageEvent): void => {
    if (this.#closed) return
    this.#lastActivity = performance.now()
    const data = evt.data
    try {
      if (data instanceof Uint8Array) this.#decoder.push(data, this.#onFrame)
      else for (const chunk of data) this.#decoder.push(chunk, this.#onFrame)
    } catch (err) {
      // A framing error: the byte stream cannot be resynchronised, so the session ends.
      this.#deliverInbox(true)
      this.#abort(err as Error)
      return
    }
    if (!this.#deliveryScheduled) this.#deliver()
  }

  /**
   * Hands decoded messages to onmessage in order. The SDK runs notification handlers a
   * microtask later but settles responses at once, so after a notification the rest
   * waits a microtask: a progress notification is then handled before the response
   * that ends its request, as it would be had they arrived in separate reads.
   */
  readonly #deliver = (): void => { this.#deliverInbox(false) }

  #deliverInbox (all: boolean): void {
    this.#deliveryScheduled = false
    const inbox = this.#inbox
    while (this.#inboxHead < inbox.length) {
      const message = inbox[this.#inboxHead++]!
      try {
        this.onmessage?.(message, this.#extra)
      } catch (err) {
        this.onerror?.(err as Error)
      }
      if (!all && this.#inboxHead < inbox.length && 'method' in message && !('id' in message)) {
        this.#deliveryScheduled = true
        queueMicrotask(this.#deliver)
        return
      }
    }
    this.#inbox = []
    this.#inboxHead = 0
  }

  readonly #onFrame = (frame: Uint8Array): void => {
    let value: unknown
    try {
      value = JSON.parse(this.#utf8.decode(frame))
    } catch (err) {
      this.onerror?.(new InvalidMessageError(`frame of ${frame.length} bytes is not UTF-8 JSON: ${errorMessage(err)}`, { cause: err }))
      return
    }
    const message = checkJsonRpc(value)
    if (typeof message === 'string') {
      this.onerror?.(new InvalidMessageError(`frame of ${frame.length} bytes is not a JSON-RPC 2.0 message: ${message}`))
      return
    }
    if (this.#maxInFlight > 0 && 'method' in message && 'id' in message && this.#inboundRequests.size >= this.#maxInFlight) {
      this.#refuse(message.id)
      return
    }
    this.#trackIncoming(message)
    this.#inbox.push(message)
  }

  readonly #onRemoteCloseWrite = (): void => {
    const pending = this.#decoder.pendingBytes
    if (pending > 0) this.onerror?.(new InvalidFrameError(`the remote closed the stream inside a frame (${pending} bytes of it received)`))
    // The remote ended its session; close our half too, or its stream stays half-open.
    void this.close()
  }

  readonly #onClose = (evt: StreamCloseEvent): void => {
    this.#finish(evt.error)
  }

  #fail (err: Error): void {
    if (this.#closed) return
    this.#abort(err)
    this.#finish(undefined)
  }

  #abort (err: Error): void {
    this.#abortedWith = err
    this.onerror?.(err)
    this.#stream.abort(err)
  }

  #finish (error: Error | undefined): void {
    if (this.#closed) return
    this.#deliverInbox(true)
    this.#closed = true
    this.#closing = true
    this.#queue = []
    if (this.#idleTimer !== undefined) clearTimeout(this.#idleTimer)
    const stream = this.#stream
    stream.removeEventListener('message', this.#onMessage)
    stream.removeEventListener('remoteCloseWrite', this.#onRemoteCloseWrite)
    stream.removeEventListener('close', this.#onClose)
    if (error !== undefined && error !== this.#abortedWith) {
      this.#log.debug('MCP stream %s closed with %s', stream.id, error.name)
      this.onerror?.(error)
    }
    this.onclose?.()
  }

  /** Answers a request past `maxInFlight` at once, without running it. */
  #refuse (id: RequestId): void {
    const err = new InFlightLimitError(this.sessionId, this.#maxInFlight)
    this.onerror?.(err)
    if (this.#closing) return
    const answer = { jsonrpc: '2.0', id, error: { code: LIMIT_REFUSED_CODE, message: err.message, data: { name: err.name, limit: err.limit, value: err.value } } }
    try { this.#enqueue(JSON.stringify(answer)) } catch { /* the stream was reset: the remote does not read */ }
  }

  #trackIncoming (message: JSONRPCMessage): void {
    if ('method' in message) {
      if ('id' in message) {
        this.#inboundRequests.add(message.id)
        if (message.method !== 'initialize' && message.method !== 'ping') this.#used = true
      } else if (message.method === 'notifications/cancelled') {
        // A cancelled request gets no answer (the SDK drops it): it is no longer in flight.
        const id = (message.params as { requestId?: unknown } | undefined)?.requestId
        if (typeof id === 'string' || typeof id === 'number') this.#inboundRequests.delete(id)
      }
      const uri = (message.params as { uri?: unknown } | undefined)?.uri
      if (typeof uri === 'string') {
        if (message.method === 'resources/subscribe' && 'id' in message && this.#subscriptions.size < MAX_TRACKED_SUBSCRIPTIONS) this.#pendingSubscribes.set(message.id, uri)
        else if (message.method === 'resources/unsubscribe') this.#subscriptions.delete(uri)
      }
    } else if ('id' in message && message.id !== undefined) {
      this.#outboundRequests.delete(message.id)
    }
  }

  #trackOutgoing (message: JSONRPCMessage): void {
    if ('method' in message) {
      if ('id' in message) this.#outboundRequests.add(message.id)
    } else if ('id' in message && message.id !== undefined) {
      this.#inboundRequests.delete(message.id)
      const uri = this.#pendingSubscribes.get(message.id)
      if (uri !== undefined) {
        this.#pendingSubscribes.delete(message.id)
        if ('result' in message) this.#subscriptions.add(uri)
      }
    }
  }

  #armIdle (ms: number): void {
    this.#idleTimer = setTimeout(this.#checkIdle, ms)
    this.#idleTimer.unref?.()
  }

  readonly #checkIdle = (): void => {
    if (this.#closing) return
    const quietFor = performance.now() - this.#lastActivity
    if (this.#inboundRequests.size > 0 || this.#outboundRequests.size > 0 || this.#subscriptions.size > 0) {
      this.#armIdle(this.#idleTimeoutMs)
      return
    }
    if (quietFor < this.#idleTimeoutMs) {
      this.#armIdle(this.#idleTimeoutMs - quietFor)
      return
    }
    this.onerror?.(new IdleTimeoutError(this.#idleTimeoutMs))
    void this.close()
  }
}
