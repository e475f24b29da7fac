import { peerIdFromString } from '@libp2p/peer-id'
import { z } from 'zod'
import { errorMessage } from '../errors.js'
import { MAX_PRINCIPAL_LENGTH, parsePrincipal, peerPrincipal, type Identity } from './principal.js'

/** `_meta` key of a routed request carrying the caller's identity, signed by the entry peer (decision 0176). */
export const IDENTITY_META = 'p2p-mcp/identity'
/** How long an assertion is valid: it is re-signed at half of it. */
export const DEFAULT_ASSERTION_TTL_MS = 60_000
/** Clock difference between peers tolerated on `iat`/`exp`. */
export const ASSERTION_SKEW_MS = 30_000
/** Assertions kept signed per peer (one per principal and scope set). */
const MAX_CACHED_ASSERTIONS = 1024
const DOMAIN = 'p2p-mcp/identity/1'

/** A caller's identity as the entry peer asserts it to the serving peer. */
export interface IdentityAssertion {
  v: 1
  principal: string
  scopes: string[]
  /** The asserting (entry) peer's id: the serving peer checks it is the connection's remote peer. */
  peer: string
  /** Milliseconds since the epoch. */
  iat: number
  exp: number
  /** The entry peer's libp2p-key signature over the fields above (base64url). */
  sig: string
}

const AssertionSchema = z.strictObject({
  v: z.literal(1),
  principal: z.string().min(1).max(MAX_PRINCIPAL_LENGTH),
  scopes: z.array(z.string().min(1).max(256)).max(64),
  peer: z.string().min(1).max(128),
  iat: z.number().int().nonnegative(),
  exp: z.number().int().nonnegative(),
  sig: z.string().min(1).max(1024),
})

/** An identity assertion that does not verify: the call is refused (never served as the peer alone). */
export class IdentityAssertionError extends Error {
  override readonly name = 'IdentityAssertionError'
  readonly code = 'ERR_MCP_NODE_IDENTITY_ASSERTION'
}

/** The signed bytes: a domain tag and the fields, as one JSON array (a fixed order, no ambiguity). */
function signedBytes (a: Omit<IdentityAssertion, 'sig'>): Uint8Array {
  return new TextEncoder().encode(JSON.stringify([DOMAIN, a.peer, a.principal, a.scopes, a.iat, a.exp]))
}

/**
 * Signs the identities of this peer's callers for the peers it routes to: cached per
 * principal and scope set, re-signed when half their lifetime has passed, so a busy entry
 * peer signs about once per caller per 30 s, not once per call.
 */
export class IdentityAsserter {
  private readonly cache = new Map<string, IdentityAssertion>()
  private readonly peerId: string
  private readonly sign: (data: Uint8Array) => Uint8Array | Promise<Uint8Array>
  private readonly ttlMs: number

  constructor (init: { peerId: string, sign: (data: Uint8Array) => Uint8Array | Promise<Uint8Array>, ttlMs?: number }) {
    this.peerId = init.peerId
    this.sign = init.sign
    this.ttlMs = init.ttlMs ?? DEFAULT_ASSERTION_TTL_MS
  }

  async assert (identity: Identity, now = Date.now()): Promise<IdentityAssertion> {
    const key = `${identity.principal}\n${identity.scopes.join(' ')}`
    const cached = this.cache.get(key)
    if (cached !== undefined && cached.exp - now > this.ttlMs / 2) return cached
    const unsigned = { v: 1 as const, principal: identity.principal, scopes: [...identity.scopes], peer: this.peerId, iat: now, exp: now + this.ttlMs }
    const sig = Buffer.from(await this.sign(signedBytes(unsigned))).toString('base64url')
    const assertion = { ...unsigned, sig }
    this.cache.delete(key)
    if (this.cache.size >= MAX_CACHED_ASSERTIONS) this.cache.delete(this.cache.keys().next().value!)
    this.cache.set(key, assertion)
    return assertion
  }
}

/**
 * The identity a peer asserted, verified against the libp2p connection it came on: the
 * asserting peer must be `remotePeer` (authenticated by Noise, admitted by PSK or
 * allow-list), its key must sign the assertion, and it must be current. The identity
 * records `peer:<remote>` as its asserter. Throws `IdentityAssertionError`.
 */
export async function verifyAssertion (value: unknown, remotePeer: string, now = Date.now()): Promise<Identity> {
  const parsed = AssertionSchema.safeParse(value)
  if (!parsed.success) throw new IdentityAssertionError(`malformed identity assertion (${parsed.error.issues[0]?.path.join('.') ?? ''}: ${parsed.error.issues[0]?.message ?? ''})`)
  const a = parsed.data
  if (a.peer !== remotePeer) throw new IdentityAssertionError(`identity asserted for peer ${a.peer} arrived from peer ${remotePeer}; a peer may assert only its own callers`)
  if (a.exp + ASSERTION_SKEW_MS < now) throw new IdentityAssertionError(`identity assertion of ${remotePeer} expired ${now - a.exp} ms ago`)
  if (a.iat - ASSERTION_SKEW_MS > now || a.exp - a.iat > 10 * DEFAULT_ASSERTION_TTL_MS) throw new IdentityAssertionError(`identity assertion of ${remotePeer} is dated in the future or lives too long; check the peers' clocks`)
  let key
  try {
    key = peerIdFromString(remotePeer).publicKey
  } catch (err) {
    throw new IdentityAssertionError(`peer id ${remotePeer} does not parse: ${errorMessage(err)}`)
  }
  if (key === undefined) throw new IdentityAssertionError(`peer id ${remotePeer} does not embed its public key (an RSA peer id); identities cannot be asserted by it`)
  // A signature of the wrong length makes the key's verify throw rather than answer false.
  const ok = await Promise.resolve().then(async () => await key.verify(signedBytes(a), Buffer.from(a.sig, 'base64url'))).catch(() => false)
  if (!ok) throw new IdentityAssertionError(`identity assertion of ${remotePeer} has a bad signature`)
  let principal
  try {
    principal = parsePrincipal(a.principal)
  } catch (err) {
    throw new IdentityAssertionError(`identity asserted by ${remotePeer}: ${errorMessage(err)}`)
  }
  // A peer cannot hand its callers this peer's own stdio rights: `local` is local to the entry peer.
  if (principal === 'local') return { principal: peerPrincipal(remotePeer), scopes: [], assertedBy: peerPrincipal(remotePeer) }
  return { principal, scopes: a.scopes, assertedBy: peerPrincipal(remotePeer) }
}

/** Verified assertions remembered per serving peer. */
const MAX_VERIFIED_ASSERTIONS = 4096

/**
 * `verifyAssertion` with a bounded memory of what verified: an entry peer reuses one assertion
 * per caller for 30 s, so the serving peer checks each signature once, then compares bytes.
 */
export class IdentityVerifier {
  private readonly cache = new Map<string, { json: string, identity: Identity, exp: number }>()

  async verify (value: unknown, remotePeer: string, now = Date.now()): Promise<Identity> {
    const sig = typeof value === 'object' && value !== null ? (value as { sig?: unknown }).sig : undefined
    const key = typeof sig === 'string' ? `${remotePeer}\n${sig}` : undefined
    const json = JSON.stringify(value)
    const hit = key === undefined ? undefined : this.cache.get(key)
    if (hit !== undefined && hit.json === json && hit.exp + ASSERTION_SKEW_MS >= now) return hit.identity
    const identity = await verifyAssertion(value, remotePeer, now)
    if (key !== undefined) {
      this.cache.delete(key)
      if (this.cache.size >= MAX_VERIFIED_ASSERTIONS) this.cache.delete(this.cache.keys().next().value!)
      this.cache.set(key, { json, identity, exp: (value as IdentityAssertion).exp })
    }
    return identity
  }
}
