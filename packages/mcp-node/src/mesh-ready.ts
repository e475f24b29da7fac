import type { NodeHealth } from './health.js'

/** What `waitForMesh()` reads of a node. */
export interface MeshReadiness {
  health: () => NodeHealth
  /** True once every server the registry knows of has its definitions loaded (none loading, none still to add). */
  settled: () => boolean
  addEventListener: (type: 'mesh:changed' | 'peer:connect', listener: () => void) => void
  removeEventListener: (type: 'mesh:changed' | 'peer:connect', listener: () => void) => void
}

export interface WaitForMeshOptions {
  /** Longest wait; after it the caller goes on with what it has. */
  timeoutMs: number
  /** How often providers announce themselves: a joined peer has heard every provider after one interval. */
  heartbeatIntervalMs: number
  signal?: AbortSignal
}

/**
 * Waits until a peer that was given bootstrap peers has joined the mesh and loaded the
 * definitions of its servers, so that the first `tools/list` of a client that lists once
 * (most desktop clients over stdio) sees the mesh's tools. Joined: connected to a bootstrap
 * peer, and one heartbeat interval (plus a margin for gossip to graft) has passed since, so
 * every live provider has announced itself; loaded: no definition is still loading.
 * Resolves `'ready'`, or `'timeout'` after `timeoutMs` (bounded: a mesh that is down must
 * not keep the client from starting).
 */
export async function waitForMesh (node: MeshReadiness, options: WaitForMeshOptions): Promise<'ready' | 'timeout'> {
  const settleMs = options.heartbeatIntervalMs + 500
  return await new Promise((resolve) => {
    let connectedAt: number | undefined
    let settleTimer: ReturnType<typeof setTimeout> | undefined
    const finish = (result: 'ready' | 'timeout'): void => {
      clearTimeout(timeout)
      clearTimeout(settleTimer)
      node.removeEventListener('mesh:changed', check)
      node.removeEventListener('peer:connect', check)
      options.signal?.removeEventListener('abort', onAbort)
      resolve(result)
    }
    const onAbort = (): void => { finish('timeout') }
    function check (): void {
      const health = node.health()
      const joined = health.bootstrap.length === 0 || health.bootstrap.some((b) => b.connected)
      if (!joined) return
      connectedAt ??= Date.now()
      const waited = Date.now() - connectedAt
      if (waited < settleMs) {
        clearTimeout(settleTimer)
        settleTimer = setTimeout(check, settleMs - waited)
        settleTimer.unref()
        return
      }
      if (!node.settled()) {
        clearTimeout(settleTimer)
        settleTimer = setTimeout(check, 100)
        settleTimer.unref()
        return
      }
      finish('ready')
    }
    const timeout = setTimeout(() => { finish('timeout') }, options.timeoutMs)
    timeout.unref()
    if (options.signal?.aborted === true) { finish('timeout'); return }
    options.signal?.addEventListener('abort', onAbort, { once: true })
    node.addEventListener('mesh:changed', check)
    node.addEventListener('peer:connect', check)
    check()
  })
}

/**
 * What a failed dial of a bootstrap peer tells the operator. A private network cuts the
 * connection during the handshake when the swarm keys differ, which libp2p reports only as
 * a reset or an early end of stream, or (when the other side waits for a handshake that
 * never decrypts) as a dial timeout, or as a length prefix or protobuf field that does not
 * decode (the bytes are noise): say that the keys may differ.
 */
export function bootstrapErrorText (err: unknown, hasPsk: boolean): string {
  const message = err instanceof Error ? err.message : String(err)
  const code = (err as { code?: unknown } | undefined)?.code
  if (/ECONNRESET|EPIPE|reset|ended|end of|EOF|handshake|closed/i.test(`${message} ${String(code)}`)) {
    return `${message} (the connection was cut during the handshake: ${hasPsk ? 'does the other peer use the same swarm key (psk)?' : 'does the other peer use a swarm key (psk)? this one has none'})`
  }
  if (/length too long|invalid (data )?length|unexpected end|wire type|index out of range|invalid (message|varint|key)|decrypt|protocol selection/i.test(`${message} ${String(code)}`)) {
    // Under a private network with another key (or none on one side) the bytes after the
    // handshake are noise, so the first length prefix or protobuf field read fails instead.
    return `${message} (the handshake did not decode: ${hasPsk ? 'does the other peer use the same swarm key (psk)?' : 'does the other peer use a swarm key (psk)? this one has none'})`
  }
  if (hasPsk && /timeout|timed out|aborted/i.test(message)) {
    return `${message} (no answer: is the other peer up, and does it use the same swarm key (psk)?)`
  }
  return message
}
