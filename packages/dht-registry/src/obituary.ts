import { RECORD_VERSION } from './constants.js'
import { MalformedRecordError } from './errors.js'

/**
 * A peer's report on the registry topic that it found another peer dead (`{"v":1,"obituary":
 * {"peerId":"…","seq":n}}`, in a gossipsub-signed message, so its author is known). `seq` is the
 * highest sequence the author had of the dead peer: a receiver that holds a newer record, or has
 * its own connection to the peer, keeps it.
 */
export interface Obituary {
  peerId: string
  seq: number
}

/** Largest obituary message read. */
export const MAX_OBITUARY_BYTES = 512

const encoder = new TextEncoder()
const decoder = new TextDecoder()

export function encodeObituary (o: Obituary): Uint8Array {
  return encoder.encode(JSON.stringify({ v: RECORD_VERSION, obituary: { peerId: o.peerId, seq: o.seq } }))
}

/** The obituary in `bytes`, undefined when they are not one (a record), or a typed error when they are a malformed one. */
export function decodeObituary (bytes: Uint8Array): Obituary | undefined {
  if (bytes.byteLength > MAX_OBITUARY_BYTES) return undefined
  let value: unknown
  try {
    value = JSON.parse(decoder.decode(bytes))
  } catch {
    return undefined
  }
  if (typeof value !== 'object' || value === null || !('obituary' in value)) return undefined
  const o = (value as { v?: unknown, obituary: unknown }).obituary
  if ((value as { v?: unknown }).v !== RECORD_VERSION || typeof o !== 'object' || o === null) throw new MalformedRecordError('obituary is not { v: 1, obituary: { peerId, seq } }')
  const { peerId, seq } = o as { peerId?: unknown, seq?: unknown }
  if (typeof peerId !== 'string' || peerId.length > 128 || typeof seq !== 'number' || !Number.isSafeInteger(seq) || seq < 0) {
    throw new MalformedRecordError('obituary needs a peerId string (at most 128 characters) and a non-negative integer seq')
  }
  return { peerId, seq }
}
