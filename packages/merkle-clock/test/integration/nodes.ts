// Two-or-more libp2p nodes for this package's integration tests: memory transport, noise,
// yamux. (Kept here on purpose: the shared testkit package belongs to another package.)
import { randomUUID } from 'node:crypto'
import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import type { Libp2p } from '@libp2p/interface'
import { memory } from '@libp2p/memory'
import { createLibp2p } from 'libp2p'

export async function startNodes (n: number): Promise<Libp2p[]> {
  return Promise.all(Array.from({ length: n }, async () => createLibp2p({
    addresses: { listen: [`/memory/${randomUUID()}`] },
    transports: [memory()],
    connectionEncrypters: [noise()],
    streamMuxers: [yamux()],
  })))
}

export async function stopNodes (nodes: Libp2p[]): Promise<void> {
  await Promise.all(nodes.map(async (node) => node.stop()))
}
