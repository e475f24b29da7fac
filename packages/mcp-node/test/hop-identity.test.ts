import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { IdentityAsserter, IdentityVerifier, verifyAssertion, type IdentityAssertion } from '../src/auth/hop-identity.js'

async function peer (): Promise<{ id: string, asserter: IdentityAsserter, signs: () => number }> {
  const key = await generateKeyPair('Ed25519')
  const id = peerIdFromPrivateKey(key).toString()
  let n = 0
  return { id, asserter: new IdentityAsserter({ peerId: id, sign: (d) => { n++; return key.sign(d) } }), signs: () => n }
}

describe('identity across the hop', () => {
  it('verifies an assertion from the peer on the connection and records it as the asserter', async () => {
    const a = await peer()
    const assertion = await a.asserter.assert({ principal: 'oauth:https://idp.example#alice', scopes: ['mcp:tools'] })
    expect(await verifyAssertion(JSON.parse(JSON.stringify(assertion)), a.id)).toEqual({ principal: 'oauth:https://idp.example#alice', scopes: ['mcp:tools'], assertedBy: `peer:${a.id}` })
  })

  it('refuses an assertion arriving from another peer, expired, from the future, or malformed', async () => {
    const a = await peer()
    const b = await peer()
    const now = Date.now()
    await expect(verifyAssertion(await a.asserter.assert({ principal: 'token:alice', scopes: [] }), b.id)).rejects.toThrowError(/asserted for peer .* arrived from peer/)
    await expect(verifyAssertion(await a.asserter.assert({ principal: 'token:old', scopes: [] }, now - 600_000), a.id, now)).rejects.toThrowError(/expired/)
    await expect(verifyAssertion(await a.asserter.assert({ principal: 'token:future', scopes: [] }, now + 600_000), a.id, now)).rejects.toThrowError(/future/)
    await expect(verifyAssertion({ v: 1, principal: 'token:x' }, a.id)).rejects.toMatchObject({ name: 'IdentityAssertionError' })
    await expect(verifyAssertion('x'.repeat(10), a.id)).rejects.toMatchObject({ name: 'IdentityAssertionError' })
  })

  it('the entry peer\'s local is not the serving peer\'s local: it arrives as peer:<entry>', async () => {
    const a = await peer()
    expect(await verifyAssertion(await a.asserter.assert({ principal: 'local', scopes: [] }), a.id)).toEqual({ principal: `peer:${a.id}`, scopes: [], assertedBy: `peer:${a.id}` })
  })

  it('signs once per caller while the assertion is fresh', async () => {
    const a = await peer()
    for (let i = 0; i < 5; i++) await a.asserter.assert({ principal: 'token:alice', scopes: [] })
    await a.asserter.assert({ principal: 'token:bob', scopes: [] })
    expect(a.signs()).toBe(2)
  })

  it('any change to a signed field breaks the signature (property)', async () => {
    const a = await peer()
    const good = await a.asserter.assert({ principal: 'token:alice', scopes: ['s1'] })
    await fc.assert(fc.asyncProperty(
      fc.constantFrom<keyof IdentityAssertion>('principal', 'scopes', 'iat', 'exp'),
      fc.string({ minLength: 1, maxLength: 12 }),
      async (field, text) => {
        const forged: Record<string, unknown> = { ...good }
        if (field === 'principal') forged.principal = `token:${text}` === good.principal ? 'token:mallory' : `token:${text}`
        else if (field === 'scopes') forged.scopes = [...good.scopes, text]
        else forged[field] = (good[field] as number) - 1 - (text.length % 5)
        await expect(verifyAssertion(forged, a.id)).rejects.toMatchObject({ name: 'IdentityAssertionError' })
      },
    ), { numRuns: 50 })
  })
})

describe('IdentityVerifier', () => {
  it('checks a signature once, then accepts the identical assertion; a changed copy is verified again and refused', async () => {
    const a = await peer()
    const verifier = new IdentityVerifier()
    const assertion = await a.asserter.assert({ principal: 'token:alice', scopes: [] })
    expect(await verifier.verify(assertion, a.id)).toMatchObject({ principal: 'token:alice' })
    expect(await verifier.verify({ ...assertion }, a.id)).toMatchObject({ principal: 'token:alice' })
    await expect(verifier.verify({ ...assertion, principal: 'token:root' }, a.id)).rejects.toThrowError(/bad signature/)
    const b = await peer()
    await expect(verifier.verify(assertion, b.id)).rejects.toThrowError(/arrived from peer/)
  })
})
