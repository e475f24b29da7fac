import { publicKeyFromProtobuf, publicKeyToProtobuf } from '@libp2p/crypto/keys'
import { peerIdFromPublicKey } from '@libp2p/peer-id'
import { base64url } from 'multiformats/bases/base64'
import { canonicalJson } from './canonical-json.js'
import { DEFAULT_MAX_CLOCK_SKEW_MS, DEFAULT_MAX_RECORD_BYTES, RECORD_VERSION, SIGNATURE_DOMAIN } from './constants.js'
import { DescriptorSchema } from './descriptor.js'
import {
  InvalidDescriptorError, InvalidSignatureError, MalformedRecordError, PeerIdMismatchError, RecordExpiredError,
  RecordTooLargeError, UnsupportedVersionError,
} from './errors.js'
import type { Descriptor } from './types.js'
import type { PublicKey } from '@libp2p/interface'

/** What signs records: a libp2p `PrivateKey` fits, and so does the `registrySigner` service. */
export interface RecordSigner {
  readonly publicKey: PublicKey
  sign: (data: Uint8Array) => Uint8Array | Promise<Uint8Array>
}

const encoder = new TextEncoder()
const MAX_KEY_CHARS = 2048
const MAX_SIGNATURE_CHARS = 1024

/** Options of {@link decodeRecord}. */
export interface DecodeRecordOptions {
  /** @default 65536 */
  maxRecordBytes?: number
  /** Current time in ms since the epoch. @default Date.now() */
  now?: number
  /** @default 60000 */
  maxClockSkewMs?: number
  /** The peer the record must belong to (the DHT key's peer, the gossip sender). */
  expectedPeerId?: string
}

/** The bytes a descriptor's signature covers: the domain prefix, then the descriptor's RFC 8785 canonical JSON. */
export function signedBytes (descriptor: unknown): Uint8Array {
  return encoder.encode(SIGNATURE_DOMAIN + canonicalJson(descriptor, 'descriptor'))
}

/**
 * Signs a descriptor with the peer's libp2p private key and returns the record envelope's bytes:
 * UTF-8 JSON `{ "v": 1, "descriptor": …, "publicKey": base64url(protobuf), "signature": base64url }`.
 */
export async function encodeRecord (descriptor: Descriptor, signer: RecordSigner): Promise<Uint8Array> {
  const signature = await signer.sign(signedBytes(descriptor))
  return encoder.encode(JSON.stringify({
    v: RECORD_VERSION,
    descriptor,
    publicKey: base64url.baseEncode(publicKeyToProtobuf(signer.publicKey)),
    signature: base64url.baseEncode(signature),
  }))
}

function isObject (value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

function decodeBase64url (text: string, field: string): Uint8Array {
  try {
    return base64url.baseDecode(text)
  } catch (err) {
    throw new MalformedRecordError(`"${field}" is not base64url`, { cause: err })
  }
}

function parsePublicKey (text: string): PublicKey {
  try {
    return publicKeyFromProtobuf(decodeBase64url(text, 'publicKey'))
  } catch (err) {
    if (err instanceof MalformedRecordError) throw err
    throw new MalformedRecordError('"publicKey" is not a libp2p public key in protobuf form', { cause: err })
  }
}

/**
 * Decodes and verifies a record envelope: size, JSON, versions, descriptor schema, that the
 * public key is the descriptor's peer id (and `expectedPeerId` when given), the signature over
 * the descriptor's canonical JSON, and the expiry. Returns the descriptor with unknown fields
 * removed. Every failure is a typed error; nothing the network sends makes it throw anything else.
 */
export async function decodeRecord (bytes: Uint8Array, options: DecodeRecordOptions = {}): Promise<Descriptor> {
  const maxRecordBytes = options.maxRecordBytes ?? DEFAULT_MAX_RECORD_BYTES
  if (bytes.byteLength > maxRecordBytes) throw new RecordTooLargeError(bytes.byteLength, maxRecordBytes)

  let envelope: unknown
  try {
    envelope = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes))
  } catch (err) {
    throw new MalformedRecordError('not UTF-8 JSON', { cause: err })
  }
  if (!isObject(envelope)) throw new MalformedRecordError('the top level is not an object')
  if (envelope.v !== RECORD_VERSION) throw new UnsupportedVersionError('record envelope', envelope.v)
  const { descriptor: rawDescriptor, publicKey: rawKey, signature: rawSignature } = envelope
  if (!isObject(rawDescriptor)) throw new MalformedRecordError('"descriptor" is not an object')
  if (typeof rawKey !== 'string' || rawKey.length > MAX_KEY_CHARS) throw new MalformedRecordError('"publicKey" is not a string of at most 2048 characters')
  if (typeof rawSignature !== 'string' || rawSignature.length > MAX_SIGNATURE_CHARS) throw new MalformedRecordError('"signature" is not a string of at most 1024 characters')
  if (rawDescriptor.v !== RECORD_VERSION) throw new UnsupportedVersionError('descriptor', rawDescriptor.v)

  const parsed = DescriptorSchema.safeParse(rawDescriptor)
  if (!parsed.success) {
    throw new InvalidDescriptorError(parsed.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`))
  }
  const descriptor = parsed.data

  const publicKey = parsePublicKey(rawKey)
  const keyPeer = peerIdFromPublicKey(publicKey).toString()
  if (keyPeer !== descriptor.peerId) throw new PeerIdMismatchError('the descriptor\'s peerId is not the signing key\'s', keyPeer, descriptor.peerId)
  if (options.expectedPeerId !== undefined && options.expectedPeerId !== descriptor.peerId) {
    throw new PeerIdMismatchError('the record belongs to another peer', options.expectedPeerId, descriptor.peerId)
  }

  const signature = decodeBase64url(rawSignature, 'signature')
  let valid: boolean
  try {
    valid = await publicKey.verify(signedBytes(rawDescriptor), signature)
  } catch {
    valid = false
  }
  if (!valid) throw new InvalidSignatureError(descriptor.peerId)

  const now = options.now ?? Date.now()
  const skew = options.maxClockSkewMs ?? DEFAULT_MAX_CLOCK_SKEW_MS
  if (descriptor.expiresAt <= now) throw new RecordExpiredError(descriptor.peerId, `expired at ${new Date(descriptor.expiresAt).toISOString()}`)
  if (descriptor.issuedAt > now + skew) {
    throw new RecordExpiredError(descriptor.peerId, `was issued at ${new Date(descriptor.issuedAt).toISOString()}, more than ${skew} ms ahead of this peer's clock; check the clocks`)
  }
  if (descriptor.expiresAt < descriptor.issuedAt) throw new InvalidDescriptorError(['expiresAt: earlier than issuedAt'])
  return descriptor
}
