/**
 * @packageDocumentation
 *
 * Test helpers for p2p-mcp packages (private, never published): start N libp2p nodes on
 * the memory transport or TCP on 127.0.0.1 (noise + yamux + identify + ping, raised
 * stream limits, loopback allow-listed), run peers as child processes, cut connections,
 * stop everything with one call.
 */
export { createTestNode } from './nodes.js'
export type { TestNode, TestNodeOptions, TestServices } from './nodes.js'
export { announcePeer, spawnPeer } from './peer-process.js'
export type { PeerAnnouncement, PeerProcess, SpawnPeerOptions } from './peer-process.js'
export { createTestNet } from './test-net.js'
export type { TestNet } from './test-net.js'
export { deferred, within } from './wait.js'
export { cutConnections } from './faults.js'
export { mulberry32 } from './random.js'
export { startTestIssuer } from './oauth-issuer.js'
export type { TestIssuer, TestIssuerOptions } from './oauth-issuer.js'
