import { startTestIssuer, type TestIssuer } from '@p2p-mcp/testkit'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { discoveryUrls, scopesOf, AccessTokenVerifier } from '../src/auth/oauth.js'
import { noopLogger } from '../src/logger.js'

let issuer: TestIssuer
beforeAll(async () => { issuer = await startTestIssuer({ alg: 'EdDSA' }) })
afterAll(async () => { await issuer.close() })

const RESOURCE = 'https://mesh.example/'

function verifier (now: () => number, cache = 10): AccessTokenVerifier {
  return new AccessTokenVerifier({
    issuers: [{ issuer: issuer.url, algorithms: ['EdDSA'] }], resource: RESOURCE, audiences: ['https://peer-7.example/'], requiredScopes: [], clockSkewS: 5,
    jwksTimeoutMs: 5_000, jwksCooldownMs: 0, jwksMaxAgeMs: 600_000, verifiedCacheSize: cache, now, logger: noopLogger,
  })
}

describe('AccessTokenVerifier', () => {
  it('discovers the JWKS from the issuer metadata, accepts the mesh and extra audiences, reads scope and scp', async () => {
    const v = verifier(Date.now)
    const t = await issuer.sign({ sub: 'u1', aud: [RESOURCE, 'x'], scope: 'a b', client_id: 'app' })
    expect(await v.verify(t)).toMatchObject({ principal: `oauth:${issuer.url}#u1`, scopes: ['a', 'b'], clientId: 'app', subject: 'u1', issuer: issuer.url })
    expect(await v.verify(await issuer.sign({ sub: 'u2', aud: 'https://peer-7.example/', scp: ['c'] }))).toMatchObject({ scopes: ['c'] })
    expect(scopesOf({ scp: 'd e' })).toEqual(['d', 'e'])
    expect(scopesOf({})).toEqual([])
  })

  it('a remembered token is refused once its expiry passes (the cache honours exp)', async () => {
    let now = Date.now()
    const v = verifier(() => now)
    const t = await issuer.sign({ sub: 'u1', aud: RESOURCE, exp: Math.floor(now / 1000) + 60 })
    await v.verify(t)
    const fetches = issuer.jwksFetches
    expect(await v.verify(t)).toMatchObject({ subject: 'u1' })
    expect(issuer.jwksFetches).toBe(fetches)
    now += 120_000
    await expect(v.verify(t)).rejects.toMatchObject({ name: 'TokenRefusedError', status: 401, error: 'invalid_token', message: 'the token has expired' })
    // Without the cache, jose's own check says the same.
    await expect(verifier(() => now, 0).verify(t)).rejects.toThrowError(/expired/)
  })

  it('uses a configured jwksUri without discovery; an issuer whose keys cannot be fetched refuses tokens with a reason', async () => {
    const direct = new AccessTokenVerifier({
      issuers: [{ issuer: issuer.url, jwksUri: issuer.jwksUri, algorithms: ['EdDSA'] }], resource: RESOURCE, audiences: [], requiredScopes: [], clockSkewS: 5,
      jwksTimeoutMs: 5_000, jwksCooldownMs: 0, jwksMaxAgeMs: 600_000, logger: noopLogger,
    })
    expect(await direct.verify(await issuer.sign({ sub: 'u3', aud: RESOURCE }))).toMatchObject({ subject: 'u3' })
    // An issuer on a port nobody listens on (this issuer's, after it closed).
    const gone = await startTestIssuer({ alg: 'EdDSA' })
    const token = await gone.sign({ sub: 'u4', aud: RESOURCE })
    await gone.close()
    const down = new AccessTokenVerifier({
      issuers: [{ issuer: gone.url, algorithms: ['EdDSA'] }], resource: RESOURCE, audiences: [], requiredScopes: [], clockSkewS: 5,
      jwksTimeoutMs: 2_000, jwksCooldownMs: 0, jwksMaxAgeMs: 600_000, logger: noopLogger,
    })
    await expect(down.verify(token)).rejects.toMatchObject({ name: 'TokenRefusedError', status: 401, message: expect.stringMatching(/keys of issuer .* cannot be fetched: no authorization server metadata/) as string })
    // Not asked again at once: the next token is refused without a fetch.
    await expect(down.verify(token)).rejects.toThrowError(/cannot be fetched right now; retry in a few seconds/)
  })

  it('the discovery URLs of an issuer with a path follow RFC 8414 §3.1, then OpenID Connect', () => {
    expect(discoveryUrls('https://idp.example/realms/mesh').map(String)).toEqual([
      'https://idp.example/.well-known/oauth-authorization-server/realms/mesh',
      'https://idp.example/.well-known/openid-configuration/realms/mesh',
      'https://idp.example/realms/mesh/.well-known/openid-configuration',
    ])
  })
})
