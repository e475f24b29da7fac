import type { Connection } from '@libp2p/interface'
import { createTestNode, type TestNode, type TestNodeOptions } from './nodes.js'
import { spawnPeer, type PeerProcess, type SpawnPeerOptions } from './peer-process.js'

/**
 * Everything a test started, stopped together: `await net.stop()` in `afterEach` /
 * `afterAll`. Nodes stop in parallel, peer processes get SIGTERM (SIGKILL after 5 s).
 */
export interface TestNet {
  /** Starts one node (see createTestNode) that `stop()` will stop. */
  node: (options?: TestNodeOptions) => Promise<TestNode>
  /** Starts `n` nodes with the same options. */
  nodes: (n: number, options?: TestNodeOptions) => Promise<TestNode[]>
  /** Dials `b` from `a` by its listen addresses; resolves to the connection. */
  connect: (a: TestNode, b: TestNode) => Promise<Connection>
  /** Starts a peer process (see spawnPeer) that `stop()` will stop. */
  spawn: (script: string | URL, options?: SpawnPeerOptions) => Promise<PeerProcess>
  /** Stops every node and process started through this net. Idempotent. */
  stop: () => Promise<void>
}

export function createTestNet (): TestNet {
  const nodes: TestNode[] = []
  const peers: PeerProcess[] = []
  const net: TestNet = {
    async node (options) {
      const node = await createTestNode(options)
      nodes.push(node)
      return node
    },
    async nodes (n, options) {
      return Promise.all(Array.from({ length: n }, async () => net.node(options)))
    },
    async connect (a, b) {
      return a.dial(b.getMultiaddrs())
    },
    async spawn (script, options) {
      const peer = await spawnPeer(script, options)
      peers.push(peer)
      return peer
    },
    async stop () {
      const all = [...nodes.splice(0).map(async (n) => { await n.stop() }), ...peers.splice(0).map(async (p) => { await p.stop() })]
      await Promise.all(all)
    },
  }
  return net
}
