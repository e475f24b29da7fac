import { CID } from 'multiformats/cid'
import * as raw from 'multiformats/codecs/raw'
import { sha256 } from 'multiformats/hashes/sha2'
import { RECORD_NAMESPACE } from './constants.js'

const encoder = new TextEncoder()

/** The DHT key of a peer's descriptor record: the UTF-8 bytes of `/p2p-mcp/<peerId>`. */
export function recordKey (peerId: string): Uint8Array {
  return encoder.encode(`/${RECORD_NAMESPACE}/${peerId}`)
}

/** The peer id named by a record key, or undefined when the key is not `/p2p-mcp/<peerId>`. */
export function peerIdOfRecordKey (key: Uint8Array): string | undefined {
  const text = new TextDecoder('utf-8', { fatal: false }).decode(key)
  const prefix = `/${RECORD_NAMESPACE}/`
  if (!text.startsWith(prefix)) return undefined
  const id = text.slice(prefix.length)
  return id.length > 0 && !id.includes('/') ? id : undefined
}

/** What a provider key names. */
export type ProviderKeyKind = 'server' | 'tool' | 'capability'

/**
 * The CID a peer provides for a server name, tool name or capability:
 * CIDv1, codec raw, sha256 of the UTF-8 bytes of `/p2p-mcp/<kind>/<name>`.
 */
export async function providerCid (kind: ProviderKeyKind, name: string): Promise<CID> {
  const digest = await sha256.digest(encoder.encode(`/${RECORD_NAMESPACE}/${kind}/${name}`))
  return CID.createV1(raw.code, digest)
}
