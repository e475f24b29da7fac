/**
 * Real libp2p nodes for the registry's integration tests and scale benchmark: memory transport
 * (or TCP on 127.0.0.1), noise, yamux, and the services of `registryServices()`.
 */
import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { memory } from '@libp2p/memory'
import { tcp } from '@libp2p/tcp'
import { createLibp2p } from 'libp2p'
import { createRegistry, registryServices } from '../../src/index.js'
import type { Registry, RegistryInit, RegistryServices, RegistryServicesInit } from '../../src/index.js'
import type { GossipSub } from '@libp2p/gossipsub'
import type { Libp2p, PrivateKey } from '@libp2p/interface'

export type RegistryNode = Libp2p<RegistryServices>

export interface TestPeer {
  node: RegistryNode
  registry: Registry
  id: string
  stop: () => Promise<void>
}

let counter = 0

export interface PeerOptions {
  transport?: 'memory' | 'tcp'
  privateKey?: PrivateKey
  registry?: RegistryInit
  services?: RegistryServicesInit
}

export async function createPeer (options: PeerOptions = {}): Promise<TestPeer> {
  const transport = options.transport ?? 'memory'
  const listen = transport === 'memory' ? `/memory/dht-registry-${process.pid}-${++counter}-${Date.now()}` : '/ip4/127.0.0.1/tcp/0'
  const node = await createLibp2p({
    privateKey: options.privateKey ?? await generateKeyPair('Ed25519'),
    addresses: { listen: [listen] },
    transports: [transport === 'memory' ? memory() : tcp()],
    connectionEncrypters: [noise()],
    streamMuxers: [yamux()],
    connectionManager: { allow: ['/ip4/127.0.0.0/ipcidr/8'], maxConnections: 300 },
    services: registryServices({
      ...options.services,
      dht: { initialQuerySelfInterval: 600_000, querySelfInterval: 600_000, allowQueryWithZeroPeers: true, ...options.services?.dht },
      pubsub: { heartbeatInterval: 200, ...options.services?.pubsub },
    }),
  })
  const registry = createRegistry(node, { heartbeatIntervalMs: 500, ...options.registry })
  await registry.start()
  return {
    node,
    registry,
    id: node.peerId.toString(),
    stop: async () => {
      await registry.stop()
      await node.stop()
    },
  }
}

/** Resolves when `check()` holds, re-checking on each of the given events; rejects after `timeoutMs`. */
export async function waitFor (
  check: () => boolean,
  targets: Array<{ target: EventTarget, events: string[] }>,
  timeoutMs: number,
  what: string,
): Promise<void> {
  if (check()) return
  await new Promise<void>((resolve, reject) => {
    const listeners: Array<() => void> = []
    const done = (err?: Error): void => {
      clearTimeout(timer)
      for (const off of listeners) off()
      if (err === undefined) resolve()
      else reject(err)
    }
    const timer = setTimeout(() => { done(new Error(`timed out after ${timeoutMs} ms waiting for ${what}`)) }, timeoutMs)
    for (const { target, events } of targets) {
      for (const type of events) {
        const listener = (): void => { if (check()) done() }
        target.addEventListener(type, listener)
        listeners.push(() => { target.removeEventListener(type, listener) })
      }
    }
  })
}

interface RoutingTableView extends EventTarget {
  size: number
  closestPeers: (kadId: Uint8Array, options?: { count?: number }) => Array<{ toString: () => string }>
}

/** A node's kad-dht routing table: its size, its peers, and the table to listen on. */
export function routingTable (peer: TestPeer): RoutingTableView {
  return (peer.node.services.dht as unknown as { routingTable: RoutingTableView }).routingTable
}

/** Whether a node's routing table holds every one of the given peers. */
function routingTableHolds (peer: TestPeer, ids: Set<string>): boolean {
  const table = routingTable(peer)
  if (table.size < ids.size) return false
  // every kad id is 32 bytes; asking for as many peers as the table holds lists them all
  const held = new Set(table.closestPeers(new Uint8Array(32), { count: table.size }).map((id) => id.toString()))
  for (const id of ids) if (!held.has(id)) return false
  return true
}

/**
 * Connects peers so that each dials at most `degree` earlier peers (peer i dials i-1 and up to
 * degree-1 random others), then waits until every routing table holds each connected peer.
 * A connection reaches the routing table only after identify, so under load a table lags its
 * connections; a DHT walk that starts from such a table stops early (kad-dht follows only peers
 * closer than the one that named them), and the records of a publish land on too few peers.
 * `wait: 'one'` only waits for one entry per table: the scale benchmark, whose hubs may never
 * hold every neighbour and which warms its routing tables itself; `'none'` waits for the dials
 * only (the registry does not need routing tables to be useful: issue 18).
 */
export async function connect (peers: TestPeer[], degree = 3, random: () => number = Math.random, timeoutMs = 30_000, wait: 'all' | 'one' | 'none' = 'all'): Promise<number[]> {
  const dials: Array<Promise<unknown>> = []
  const neighbours: Array<Set<string>> = peers.map(() => new Set())
  for (let i = 1; i < peers.length; i++) {
    const targets = new Set<number>([i - 1])
    while (targets.size < Math.min(degree, i)) targets.add(Math.floor(random() * i))
    for (const j of targets) {
      neighbours[i]!.add(peers[j]!.id)
      neighbours[j]!.add(peers[i]!.id)
      dials.push(peers[i]!.node.dial(peers[j]!.node.getMultiaddrs()))
    }
  }
  await Promise.all(dials)
  if (wait === 'none') return neighbours.map((n) => n.size)
  await Promise.all(peers.map(async (p, i) => {
    const ready = wait === 'all' ? () => routingTableHolds(p, neighbours[i]!) : () => routingTable(p).size >= 1
    await waitFor(ready, [{ target: routingTable(p), events: ['peer:add'] }], timeoutMs, `routing table of peer ${i} to hold ${wait === 'all' ? `its ${neighbours[i]!.size} neighbours` : 'a peer'}`)
  }))
  return neighbours.map((n) => n.size)
}

/** Waits until every peer sees at least `n` subscribers of the registry topic (and, with `mesh`, has a gossip mesh). */
export async function waitForGossipMesh (peers: TestPeer[], n = 1, options: { mesh?: boolean, timeoutMs?: number } = {}): Promise<void> {
  await Promise.all(peers.map(async (p) => {
    const pubsub = p.node.services.pubsub
    const meshSize = (): number => (pubsub as unknown as { getMeshPeers: (t: string) => string[] }).getMeshPeers('p2p-mcp/registry/1').length
    await waitFor(() => pubsub.getSubscribers('p2p-mcp/registry/1').length >= n && (options.mesh !== true || meshSize() >= 1),
      [{ target: pubsub, events: ['subscription-change', 'gossipsub:graft'] }], options.timeoutMs ?? 30_000, 'gossip subscribers')
  }))
}

export async function stopAll (peers: TestPeer[]): Promise<void> {
  await Promise.allSettled(peers.map(async (p) => { await p.stop() }))
}

/** A registry on `node` that publishes and listens through `pubsub` (a wrapper that holds messages back, say). */
export function registryWithPubsub (node: RegistryNode, pubsub: GossipSub, init: RegistryInit): Registry {
  const view = new Proxy(node, {
    get: (target, key) => {
      if (key === 'services') return { ...target.services, pubsub }
      const value: unknown = Reflect.get(target, key)
      // libp2p's methods use private fields: call them on the node itself
      return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value
    },
  })
  return createRegistry(view, init)
}
