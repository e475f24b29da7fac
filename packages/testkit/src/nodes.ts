import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import { identify, type Identify } from '@libp2p/identify'
import type { Libp2p } from '@libp2p/interface'
import { memory } from '@libp2p/memory'
import { ping, type Ping } from '@libp2p/ping'
import { tcp } from '@libp2p/tcp'
import { createLibp2p, type Libp2pOptions } from 'libp2p'
import { randomUUID } from 'node:crypto'

/** The services every test node runs. */
// A type alias, not an interface: libp2p's ServiceMap constraint needs an index signature.
export type TestServices = { identify: Identify, ping: Ping }

export type TestNode = Libp2p<TestServices>

export interface TestNodeOptions {
  /**
   * `memory`: in-process, a unique `/memory/<uuid>` address (noise and yamux still run).
   * `tcp`: `/ip4/127.0.0.1/tcp/0`.
   *
   * @default 'memory'
   */
  transport?: 'memory' | 'tcp'
  /**
   * Streams per connection yamux accepts in each direction.
   *
   * @default 1024
   */
  maxStreamsPerConnection?: number
  /** Merged over the defaults (shallowly), e.g. `{ privateKey }` or more `services`. */
  libp2p?: Partial<Libp2pOptions<TestServices>>
}

/**
 * Starts one libp2p node for tests: noise + yamux + identify + ping, listening on
 * 127.0.0.1 (TCP) or a unique memory address, with loopback exempt from connection
 * rate limits and generous stream limits. The caller stops it (or use a TestNet).
 */
export async function createTestNode (options: TestNodeOptions = {}): Promise<TestNode> {
  const kind = options.transport ?? 'memory'
  const streams = options.maxStreamsPerConnection ?? 1024
  const extra = options.libp2p ?? {}
  return createLibp2p<TestServices>({
    addresses: { listen: [kind === 'tcp' ? '/ip4/127.0.0.1/tcp/0' : `/memory/${randomUUID()}`] },
    transports: [kind === 'tcp' ? tcp() : memory()],
    connectionEncrypters: [noise()],
    streamMuxers: [yamux({ maxInboundStreams: streams, maxOutboundStreams: streams })],
    connectionManager: { allow: ['/ip4/127.0.0.0/ipcidr/8'] },
    ...extra,
    services: {
      identify: identify(),
      ping: ping({ maxInboundStreams: 8, maxOutboundStreams: 8 }),
      ...extra.services,
    },
  })
}
