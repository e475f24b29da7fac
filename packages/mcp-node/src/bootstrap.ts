import type { Libp2p } from '@libp2p/interface'
import { peerIdFromString } from '@libp2p/peer-id'
import { multiaddr } from '@multiformats/multiaddr'
import { Backoff } from './backoff.js'
import { DEFAULT_BOOTSTRAP_RETRY_MAX_MS, DEFAULT_BOOTSTRAP_RETRY_MIN_MS } from './constants.js'
import { ConfigError, errorMessage } from './errors.js'
import type { NodeHealth } from './health.js'
import type { Logger } from './logger.js'
import { bootstrapErrorText } from './mesh-ready.js'

interface BootstrapPeer { addr: string, peer: string, connected: boolean, attempts: number, error?: string }

/** The peer id at the end of a bootstrap multiaddr; a `ConfigError` when there is none. */
export function peerOf (addr: string): string {
  let peer: string | undefined
  try { peer = multiaddr(addr).getComponents().findLast((x) => x.name === 'p2p')?.value } catch (err) {
    throw new ConfigError('bootstrap', `${addr} is not a multiaddr: ${errorMessage(err)}`)
  }
  if (peer === undefined) throw new ConfigError('bootstrap', `${addr} does not end in /p2p/<peer id>; add the bootstrap peer's id`)
  try { peerIdFromString(peer) } catch { throw new ConfigError('bootstrap', `${addr}: ${JSON.stringify(peer)} is not a peer id (12D3Koo…)`) }
  return peer
}

/**
 * Dials the configured bootstrap peers, again with backoff while any is unreachable and at
 * once when one disconnects; its state is part of the node's health.
 */
export class Bootstrapper {
  private readonly peers: BootstrapPeer[]
  private log: Logger
  private readonly backoff = new Backoff(DEFAULT_BOOTSTRAP_RETRY_MIN_MS, DEFAULT_BOOTSTRAP_RETRY_MAX_MS)
  private node: Libp2p | undefined
  private timer: ReturnType<typeof setTimeout> | undefined
  private stopped = false
  /** Whether this peer uses a swarm key: a cut handshake then hints at different keys. */
  private readonly hasPsk: boolean

  /** Validates the addresses (throws `ConfigError`). */
  constructor (addrs: string[], logger: Logger, hasPsk = false) {
    this.hasPsk = hasPsk
    this.peers = addrs.map((addr) => ({ addr, peer: peerOf(addr), connected: false, attempts: 0 }))
    this.log = logger
  }

  start (node: Libp2p, logger: Logger): void {
    this.node = node
    this.log = logger
    node.addEventListener('peer:connect', (e) => {
      for (const b of this.peers) if (b.peer === e.detail.toString()) b.connected = true
    })
    node.addEventListener('peer:disconnect', (e) => {
      for (const b of this.peers) {
        if (b.peer !== e.detail.toString()) continue
        b.connected = false
        this.backoff.reset()
        this.schedule(DEFAULT_BOOTSTRAP_RETRY_MIN_MS)
      }
    })
    if (this.peers.length > 0) void this.round()
  }

  stop (): void {
    this.stopped = true
    clearTimeout(this.timer)
  }

  status (): NodeHealth['bootstrap'] {
    return this.peers.map((b) => ({ addr: b.addr, connected: b.connected, attempts: b.attempts, ...(b.error === undefined ? {} : { error: b.error }) }))
  }

  private schedule (delayMs: number): void {
    if (this.stopped) return
    clearTimeout(this.timer)
    this.timer = setTimeout(() => { void this.round() }, delayMs)
    this.timer.unref()
  }

  private async round (): Promise<void> {
    const node = this.node
    if (node === undefined || this.stopped) return
    let pending = 0
    await Promise.all(this.peers.map(async (b) => {
      if (node.getConnections(peerIdFromString(b.peer)).length > 0) { b.connected = true; return }
      try {
        await node.dial(multiaddr(b.addr), { signal: AbortSignal.timeout(5_000) })
        b.connected = true
        b.attempts = 0
        delete b.error
      } catch (err) {
        b.connected = false
        b.attempts++
        b.error = bootstrapErrorText(err, this.hasPsk)
        pending++
        this.log.warn({ bootstrap: b.addr, attempt: b.attempts }, 'bootstrap peer unreachable: %s', b.error)
      }
    }))
    if (pending > 0) this.schedule(this.backoff.next())
    else this.backoff.reset()
  }
}
