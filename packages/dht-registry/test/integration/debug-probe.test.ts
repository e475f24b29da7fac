import { it } from 'vitest'
import { connect, createPeer, stopAll, waitForGossipMesh } from './helpers.js'
it('debug', async () => {
  const peers = await Promise.all(Array.from({ length: 6 }, async () => createPeer({ registry: { heartbeatIntervalMs: 500 } })))
  await connect(peers, 2, Math.random, 30000, 'one')
  await waitForGossipMesh(peers)
  for (const p of peers) {
    p.registry.liveness.addEventListener('peer:dead', (e) => { console.log('dead', p.id.slice(-4), e.detail) })
    p.registry.liveness.addEventListener('peer:suspect', (e) => { console.log('suspect', p.id.slice(-4), e.detail) })
  }
  await Promise.all(peers.map(async (p, i) => p.registry.publish({ servers: [{ name: `s${i}`, version: '1' }] })))
  await new Promise((r) => setTimeout(r, 4000))
  console.log(peers.map((p) => p.registry.providers().length), peers[0]!.node.getMultiaddrs().map(String))
  // direct probe test
  const target = peers[5]!
  const d = target.registry.descriptor!
  console.log('addrs', d.multiaddrs)
  try { console.log('ping', await peers[0]!.node.services.ping.ping(peers[5]!.node.getMultiaddrs())) } catch (e) { console.log('ping failed', e) }
  await stopAll(peers)
}, 60000)
