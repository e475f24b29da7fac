import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import {
  identityOfAuth, oauthPrincipal, parsePrincipal, peerPrincipal, principalKind, principalMatcher, tokenPrincipal, webhookPrincipal,
} from '../src/auth/principal.js'

describe('typed principals', () => {
  it('constructors give the typed forms, parsePrincipal reads them back', () => {
    const all = [peerPrincipal('12D3KooWabc'), oauthPrincipal('https://idp.example/realms/a', 'u-1'), tokenPrincipal('ci'), webhookPrincipal('w1'), 'local', 'anonymous']
    expect(all).toEqual(['peer:12D3KooWabc', 'oauth:https://idp.example/realms/a#u-1', 'token:ci', 'webhook:w1', 'local', 'anonymous'])
    for (const p of all) expect(parsePrincipal(p)).toBe(p)
    expect(all.map(principalKind)).toEqual(['peer', 'oauth', 'token', 'webhook', 'local', 'anonymous'])
  })

  it('refuses strings without a kind, empty parts and issuers with a fragment, naming the value', () => {
    expect(() => parsePrincipal('alice')).toThrowError(/"alice" is not a principal: it has no kind; write peer:<peer id>/)
    expect(() => parsePrincipal('token:')).toThrowError(/InvalidPrincipal|not a principal/)
    expect(() => parsePrincipal('oauth:https://idp.example')).toThrowError(/oauth:<issuer>#<sub>/)
    expect(() => tokenPrincipal('')).toThrowError(/empty/)
    expect(() => oauthPrincipal('https://a#b', 'c')).toThrowError(/fragment/)
    expect(() => parsePrincipal(`token:${'x'.repeat(600)}`)).toThrowError(/longer than 512/)
  })

  it('an HTTP authInfo without identity is anonymous; with one, its typed principal and scopes', () => {
    expect(identityOfAuth(undefined)).toEqual({ principal: 'anonymous', scopes: [] })
    expect(identityOfAuth({ clientId: 'token:local', scopes: ['a'] })).toEqual({ principal: 'token:local', scopes: ['a'] })
    expect(() => identityOfAuth({ clientId: 'local-ish', scopes: [] })).toThrowError(/no kind/)
  })

  it('a typed pattern matches no principal of another kind (property)', () => {
    const kinds = ['peer', 'token', 'oauth', 'webhook'] as const
    fc.assert(fc.property(fc.constantFrom(...kinds), fc.constantFrom(...kinds), fc.string({ minLength: 1, maxLength: 20 }), (a, b, value) => {
      const subject = value.replace(/[#*?]/g, '_')
      const principal = b === 'oauth' ? oauthPrincipal('https://i.example', subject) : `${b}:${subject}`
      const m = principalMatcher(`${a}:*`)
      expect(m.test(principal)).toBe(a === b)
      expect(principalMatcher('local').test(principal)).toBe(false)
      expect(principalMatcher('*').test(principal)).toBe(true)
    }))
  })
})
