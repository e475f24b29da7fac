import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import type { Descriptor } from '../src/index.js'
import type { PrivateKey } from '@libp2p/interface'

export const HASH = 'a'.repeat(64)

export async function keyAndId (): Promise<{ key: PrivateKey, id: string }> {
  const key = await generateKeyPair('Ed25519')
  return { key, id: peerIdFromPrivateKey(key).toString() }
}

export function descriptorFor (peerId: string, overrides: Partial<Descriptor> = {}, now = Date.now()): Descriptor {
  return {
    v: 1,
    peerId,
    multiaddrs: ['/memory/test'],
    seq: now,
    issuedAt: now,
    expiresAt: now + 60_000,
    heartbeatIntervalMs: 1000,
    servers: [{ name: 'files', version: '1.0.0', tools: [{ name: 'read', inputSchemaHash: HASH }], resourceTemplates: [], prompts: [] }],
    capabilities: ['ssd'],
    load: { inFlight: 0, ewmaLatencyMs: 0 },
    ...overrides,
  }
}
