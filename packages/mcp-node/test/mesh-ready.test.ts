import { describe, expect, it } from 'vitest'
import { bootstrapErrorText, waitForMesh, type MeshReadiness } from '../src/mesh-ready.js'
import type { NodeHealth } from '../src/health.js'

/** A node whose state the test sets, with real event dispatch. */
function fakeNode (): MeshReadiness & { connected: boolean, isSettled: boolean, emit: (type: 'mesh:changed' | 'peer:connect') => void } {
  const target = new EventTarget()
  const node = {
    connected: false,
    isSettled: false,
    health: (): NodeHealth => ({ status: 'ok', reasons: [], peerId: 'x', peers: 0, tools: 1, upstreams: [], bootstrap: [{ addr: '/ip4/127.0.0.1/tcp/1/p2p/x', connected: node.connected, attempts: 0 }] }),
    settled: () => node.isSettled,
    addEventListener: (type: string, l: () => void) => { target.addEventListener(type, l) },
    removeEventListener: (type: string, l: () => void) => { target.removeEventListener(type, l) },
    emit: (type: string) => { target.dispatchEvent(new Event(type)) },
  }
  return node
}

describe('waitForMesh', () => {
  it('waits for a bootstrap connection, one heartbeat interval, and loaded definitions', async () => {
    const node = fakeNode()
    let result: string | undefined
    const done = waitForMesh(node, { timeoutMs: 20_000, heartbeatIntervalMs: 50 }).then((r) => { result = r })
    await new Promise((resolve) => setTimeout(resolve, 700))
    expect(result).toBeUndefined() // not connected
    node.connected = true
    node.emit('peer:connect')
    await new Promise((resolve) => setTimeout(resolve, 700))
    expect(result).toBeUndefined() // connected, heartbeat passed, but definitions still loading
    node.isSettled = true
    node.emit('mesh:changed')
    await done
    expect(result).toBe('ready')
  })

  it('gives up after timeoutMs', async () => {
    expect(await waitForMesh(fakeNode(), { timeoutMs: 100, heartbeatIntervalMs: 50 })).toBe('timeout')
  })
})

describe('bootstrapErrorText', () => {
  it('says the swarm keys may differ when the handshake is cut', () => {
    expect(bootstrapErrorText(new Error('read ECONNRESET'), true)).toMatch(/same swarm key \(psk\)/)
    expect(bootstrapErrorText(new Error('read ECONNRESET'), false)).toMatch(/this one has none/)
    expect(bootstrapErrorText(new Error('connect ECONNREFUSED 127.0.0.1:9'), true)).toBe('connect ECONNREFUSED 127.0.0.1:9')
    // Seen in CI: the noise of another key read as a length prefix.
    expect(bootstrapErrorText(new Error('Message length too long - 15928 > 1024'), true)).toMatch(/did not decode: does the other peer use the same swarm key \(psk\)/)
    expect(bootstrapErrorText(new Error('Message length too long - 15928 > 1024'), false)).toMatch(/this one has none/)
    // A peer with another key may also just never answer the handshake.
    expect(bootstrapErrorText(new Error('The operation was aborted due to timeout'), true)).toMatch(/same swarm key \(psk\)/)
    expect(bootstrapErrorText(new Error('The operation was aborted due to timeout'), false)).toBe('The operation was aborted due to timeout')
  })
})
