// Mesh-wide limits over real gossipsub: three libp2p nodes (memory transport), each with a
// limiter and the usage gossip of decision 0181. Calls in flight at one peer count against a
// shared concurrency limit at another once reported, and stop counting once released; a peer
// that sends junk on the topic is refused and nothing else changes.
import { gossipsub, type GossipSub } from '@libp2p/gossipsub'
import { createTestNet, type TestNode } from '@p2p-mcp/testkit'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { CallLimiter, type LimitSpec } from '../../src/limits/limiter.js'
import { LIMITS_TOPIC, UsageGossip } from '../../src/limits/usage-gossip.js'
import { noopLogger } from '../../src/logger.js'

type Node = TestNode & { services: { pubsub: GossipSub } }

const net = createTestNet()
let nodes: Node[]
let peers: Array<{ limiter: CallLimiter, gossip: UsageGossip }>
const spec: LimitSpec = { key: 'mesh:test|token:alice', label: 'two at once for token:alice', maxConcurrent: 2, shared: true }

/** Resolves once `check()` holds, looking after every message `node` receives on the limits topic. */
async function afterMessages (node: Node, what: string, check: () => boolean, timeoutMs = 30_000): Promise<void> {
  if (check()) return
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => { done(); reject(new Error(`${what}: not within ${timeoutMs} ms`)) }, timeoutMs)
    const onMessage = (e: CustomEvent<{ topic: string }>): void => {
      if (e.detail.topic !== LIMITS_TOPIC) return
      // The limiter sees the message in the same event; look once it has.
      queueMicrotask(() => { if (check()) { done(); resolve() } })
    }
    const done = (): void => { clearTimeout(timer); node.services.pubsub.removeEventListener('message', onMessage as never) }
    node.services.pubsub.addEventListener('message', onMessage)
  })
}

const admits = (i: number): boolean => {
  const a = peers[i]!.limiter.acquire([spec])
  if (a.ok) a.release()
  return a.ok
}

beforeAll(async () => {
  nodes = await Promise.all([0, 1, 2].map(async () => await net.node({
    libp2p: { services: { pubsub: gossipsub({ heartbeatInterval: 100, allowPublishToZeroTopicPeers: true }) } as never },
  }))) as Node[]
  await net.connect(nodes[0]!, nodes[1]!)
  await net.connect(nodes[1]!, nodes[2]!)
  await net.connect(nodes[0]!, nodes[2]!)
  peers = nodes.map((n) => {
    const limiter = new CallLimiter({ staleMs: 10_000 })
    const gossip = new UsageGossip({ pubsub: n.services.pubsub, limiter, intervalMs: 100, logger: noopLogger })
    gossip.start()
    return { limiter, gossip }
  })
})

afterAll(async () => {
  for (const p of peers ?? []) p.gossip.stop()
  await net.stop()
})

describe('usage gossip', () => {
  it('counts another peer\'s calls in flight against a shared concurrency limit, and stops when they end', async () => {
    const held = [peers[0]!.limiter.acquire([spec]), peers[0]!.limiter.acquire([spec])]
    expect(held.every((a) => a.ok)).toBe(true)
    await afterMessages(nodes[1]!, 'peer 1 sees peer 0\'s two calls', () => !admits(1))
    await afterMessages(nodes[2]!, 'peer 2 sees them too', () => !admits(2))
    const refused = peers[1]!.limiter.acquire([spec])
    expect(refused).toMatchObject({ ok: false, limit: 'concurrency', spec: { label: 'two at once for token:alice' } })
    for (const a of held) if (a.ok) a.release()
    await afterMessages(nodes[1]!, 'peer 1 sees them end', () => admits(1))
    expect(peers[0]!.gossip.stats.sent).toBeGreaterThan(0)
    expect(peers[1]!.gossip.stats.received).toBeGreaterThan(0)
  })

  it('refuses junk on the topic and keeps its view', async () => {
    const before = peers[1]!.gossip.stats.rejected
    await nodes[2]!.services.pubsub.publish(LIMITS_TOPIC, new TextEncoder().encode('{"v":1,"u":[["not-a-hash",1,0]]}'))
    await afterMessages(nodes[1]!, 'the junk refused', () => peers[1]!.gossip.stats.rejected > before)
    expect(admits(1)).toBe(true)
  })
})
