// The auth decoders against hostile input (fast-check; FC_SEED and FC_NUM_RUNS replay or
// lengthen a run): an identity assertion from another peer and a bearer token from a client
// are refused with their typed error, never anything else, and never accepted when forged.
import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { startTestIssuer, type TestIssuer } from '@p2p-mcp/testkit'
import fc from 'fast-check'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { verifyAssertion } from '../src/auth/hop-identity.js'
import { AccessTokenVerifier } from '../src/auth/oauth.js'
import { noopLogger } from '../src/logger.js'

let issuer: TestIssuer
let peer: string
beforeAll(async () => {
  issuer = await startTestIssuer()
  peer = peerIdFromPrivateKey(await generateKeyPair('Ed25519')).toString()
})
afterAll(async () => { await issuer.close() })

const b64 = (v: unknown): string => Buffer.from(typeof v === 'string' ? v : JSON.stringify(v) ?? 'null').toString('base64url')

describe('auth decoders (fuzz)', () => {
  it('verifyAssertion refuses any value with IdentityAssertionError', async () => {
    const assertionLike = fc.record({
      v: fc.oneof(fc.constant(1), fc.anything()),
      principal: fc.oneof(fc.string({ maxLength: 600 }), fc.constant('local'), fc.anything()),
      scopes: fc.oneof(fc.array(fc.string({ maxLength: 300 }), { maxLength: 70 }), fc.anything()),
      peer: fc.oneof(fc.constant(peer), fc.string({ maxLength: 200 })),
      iat: fc.oneof(fc.constant(Date.now()), fc.integer(), fc.double()),
      exp: fc.oneof(fc.constant(Date.now() + 30_000), fc.integer(), fc.double()),
      sig: fc.oneof(fc.string({ maxLength: 1100 }), fc.base64String({ maxLength: 120 })),
    }, { requiredKeys: [] })
    await fc.assert(fc.asyncProperty(fc.oneof(fc.anything(), assertionLike), async (value) => {
      const err = await verifyAssertion(value, peer).then(() => undefined, (e: unknown) => e)
      expect((err as Error | undefined)?.name).toBe('IdentityAssertionError')
    }), { numRuns: Number(process.env.FC_NUM_RUNS ?? 300) })
  })

  it('AccessTokenVerifier refuses any string with TokenRefusedError 401', async () => {
    const v = new AccessTokenVerifier({
      issuers: [{ issuer: issuer.url, algorithms: ['ES256'] }], resource: 'https://mesh.example/', audiences: [], requiredScopes: [], clockSkewS: 5,
      jwksTimeoutMs: 5_000, jwksCooldownMs: 60_000, jwksMaxAgeMs: 600_000, logger: noopLogger,
    })
    const jwtLike = fc.tuple(
      fc.oneof(fc.record({ alg: fc.constantFrom('none', 'HS256', 'ES256', 'RS256'), kid: fc.string({ maxLength: 40 }) }), fc.anything()),
      fc.oneof(fc.record({ iss: fc.constantFrom(issuer.url, 'https://evil.example'), sub: fc.string({ maxLength: 20 }), aud: fc.string({ maxLength: 30 }), exp: fc.integer() }), fc.anything()),
      fc.base64String({ maxLength: 100 }),
    ).map(([h, p, s]) => `${b64(h)}.${b64(p)}.${s.replace(/=/g, '')}`)
    await fc.assert(fc.asyncProperty(fc.oneof(fc.string({ maxLength: 300 }), jwtLike), async (token) => {
      const err = await v.verify(token).then(() => undefined, (e: unknown) => e)
      expect(err).toMatchObject({ name: 'TokenRefusedError', status: 401, error: 'invalid_token' })
    }), { numRuns: Number(process.env.FC_NUM_RUNS ?? 300) })
  })
})
