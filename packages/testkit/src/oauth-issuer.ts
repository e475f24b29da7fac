// A tiny OAuth 2.1 authorization server for tests and benchmarks, on 127.0.0.1: RFC 8414
// metadata, a JWKS, and a token endpoint for the client-credentials grant (client_secret_basic)
// and the authorization-code grant with PKCE (S256, public clients; the authorization endpoint
// approves at once, as the configured user), RFC 8707 `resource` → `aud`. Its keys are generated
// with jose; `rotate()` replaces them.
import { createHash, randomUUID } from 'node:crypto'
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { exportJWK, generateKeyPair, SignJWT, type CryptoKey, type JWK, type JWTPayload } from 'jose'

export interface TestIssuerOptions {
  /** Signing algorithm of its keys. @default 'ES256' */
  alg?: 'ES256' | 'RS256' | 'EdDSA'
  /** Clients of the client-credentials grant: id → secret and the scopes it may get. */
  clients?: Record<string, { secret: string, scopes: string[] }>
  /** Lifetime of the tokens it issues. @default 300 */
  lifetimeS?: number
  /** Public clients of the authorization-code grant (PKCE): id → redirect URIs and scopes; the user who approves. */
  publicClients?: Record<string, { redirectUris: string[], scopes: string[] }>
  /** The `sub` of the user the authorization endpoint signs in. @default 'test-user' */
  user?: string
}

interface SigningKey { kid: string, privateKey: CryptoKey, publicJwk: JWK }

export interface TestIssuer {
  /** Its issuer identifier (`http://127.0.0.1:<port>`). */
  readonly url: string
  readonly jwksUri: string
  /** How many times its JWKS was fetched. */
  readonly jwksFetches: number
  /** How many tokens its token endpoint issued. */
  readonly tokensIssued: number
  /** The `kid` of the key it signs with now. */
  readonly kid: string
  /** Signs a token with the current key (claims override the defaults: iss, iat, exp, jti). */
  sign: (claims: JWTPayload, options?: { header?: Record<string, unknown>, key?: 'current' | 'foreign' }) => Promise<string>
  /** A new key with a new `kid`; the JWKS then serves only the new key. */
  rotate: () => Promise<void>
  close: () => Promise<void>
}

async function newKey (alg: string): Promise<SigningKey> {
  const { privateKey, publicKey } = await generateKeyPair(alg, { extractable: true })
  const kid = randomUUID()
  return { kid, privateKey, publicJwk: { ...await exportJWK(publicKey), kid, alg, use: 'sig' } }
}

async function body (req: IncomingMessage): Promise<string> {
  let text = ''
  for await (const chunk of req) {
    text += String(chunk)
    if (text.length > 64 * 1024) throw new Error('request body too large')
  }
  return text
}

function json (res: ServerResponse, status: number, value: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store' })
  res.end(JSON.stringify(value))
}

/** Starts a test authorization server on 127.0.0.1 (a free port). */
export async function startTestIssuer (options: TestIssuerOptions = {}): Promise<TestIssuer> {
  const alg = options.alg ?? 'ES256'
  const lifetimeS = options.lifetimeS ?? 300
  const clients = options.clients ?? {}
  const publicClients = options.publicClients ?? {}
  const user = options.user ?? 'test-user'
  /** Authorization codes not redeemed yet (single use). */
  const codes = new Map<string, { clientId: string, redirectUri: string, challenge: string, scope: string, resource: string }>()
  let key = await newKey(alg)
  const foreign = await newKey(alg)
  let jwksFetches = 0
  let tokensIssued = 0
  let url = ''

  const sign = async (claims: JWTPayload, o: { header?: Record<string, unknown>, key?: 'current' | 'foreign' } = {}): Promise<string> => {
    // A foreign key signs under the current kid: a signature that does not verify.
    const k = o.key === 'foreign' ? foreign : key
    const now = Math.floor(Date.now() / 1000)
    return await new SignJWT({ iss: url, iat: now, exp: now + lifetimeS, jti: randomUUID(), ...claims })
      .setProtectedHeader({ alg, kid: key.kid, typ: 'at+jwt', ...o.header })
      .sign(k.privateKey)
  }

  const authorize = (url: URL, res: ServerResponse): void => {
    const q = url.searchParams
    const client = publicClients[q.get('client_id') ?? '']
    const redirectUri = q.get('redirect_uri') ?? ''
    if (client === undefined || !client.redirectUris.includes(redirectUri)) return json(res, 400, { error: 'invalid_request', error_description: 'unknown client or redirect_uri' })
    const back = new URL(redirectUri)
    const state = q.get('state')
    if (state !== null) back.searchParams.set('state', state)
    const challenge = q.get('code_challenge')
    const resource = q.get('resource')
    if (q.get('response_type') !== 'code' || q.get('code_challenge_method') !== 'S256' || challenge === null || resource === null) {
      back.searchParams.set('error', 'invalid_request')
    } else {
      const code = randomUUID()
      const scope = (q.get('scope') ?? '').split(' ').filter((x) => client.scopes.includes(x)).join(' ')
      codes.set(code, { clientId: q.get('client_id')!, redirectUri, challenge, scope, resource })
      back.searchParams.set('code', code)
    }
    res.writeHead(302, { location: back.href })
    res.end()
  }

  const redeem = async (form: URLSearchParams, res: ServerResponse): Promise<void> => {
    const code = codes.get(form.get('code') ?? '')
    codes.delete(form.get('code') ?? '')
    const verifier = form.get('code_verifier') ?? ''
    if (code === undefined || code.clientId !== form.get('client_id') || code.redirectUri !== form.get('redirect_uri')) return json(res, 400, { error: 'invalid_grant' })
    if (createHash('sha256').update(verifier).digest('base64url') !== code.challenge) return json(res, 400, { error: 'invalid_grant', error_description: 'PKCE verification failed' })
    tokensIssued++
    const accessToken = await sign({ sub: user, aud: code.resource, scope: code.scope, client_id: code.clientId })
    json(res, 200, { access_token: accessToken, token_type: 'Bearer', expires_in: lifetimeS, scope: code.scope })
  }

  const token = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const form = new URLSearchParams(await body(req))
    if (form.get('grant_type') === 'authorization_code') return await redeem(form, res)
    const basic = /^Basic\s+(\S+)$/i.exec(req.headers.authorization ?? '')?.[1]
    const [id, secret] = basic === undefined ? [] : Buffer.from(basic, 'base64').toString('utf8').split(':').map(decodeURIComponent)
    const client = id === undefined ? undefined : clients[id]
    if (client === undefined || client.secret !== secret) return json(res, 401, { error: 'invalid_client' })
    if (form.get('grant_type') !== 'client_credentials') return json(res, 400, { error: 'unsupported_grant_type' })
    const asked = (form.get('scope') ?? client.scopes.join(' ')).split(' ').filter((s) => s.length > 0)
    const scopes = asked.filter((s) => client.scopes.includes(s))
    const resource = form.get('resource')
    if (resource === null) return json(res, 400, { error: 'invalid_target', error_description: 'resource (RFC 8707) is required' })
    tokensIssued++
    const accessToken = await sign({ sub: id!, aud: resource, scope: scopes.join(' '), client_id: id! })
    json(res, 200, { access_token: accessToken, token_type: 'Bearer', expires_in: lifetimeS, scope: scopes.join(' ') })
  }

  const server: Server = createServer((req, res) => {
    const path = new URL(req.url ?? '/', 'http://localhost').pathname
    if (req.method === 'GET' && (path === '/.well-known/oauth-authorization-server' || path === '/.well-known/openid-configuration')) {
      return json(res, 200, {
        issuer: url,
        authorization_endpoint: `${url}/authorize`,
        token_endpoint: `${url}/token`,
        jwks_uri: `${url}/jwks`,
        grant_types_supported: ['client_credentials', 'authorization_code'],
        token_endpoint_auth_methods_supported: ['client_secret_basic', 'none'],
        response_types_supported: ['code'],
        code_challenge_methods_supported: ['S256'],
        scopes_supported: [...new Set([...Object.values(clients), ...Object.values(publicClients)].flatMap((c) => c.scopes))],
      })
    }
    if (req.method === 'GET' && path === '/jwks') {
      jwksFetches++
      return json(res, 200, { keys: [key.publicJwk] })
    }
    if (req.method === 'GET' && path === '/authorize') return authorize(new URL(req.url ?? '/', url), res)
    if (req.method === 'POST' && path === '/token') {
      token(req, res).catch((err: unknown) => { if (!res.headersSent) json(res, 500, { error: 'server_error', error_description: String(err) }) })
      return
    }
    json(res, 404, { error: 'not_found' })
  })
  await new Promise<void>((resolve) => { server.listen(0, '127.0.0.1', resolve) })
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`

  return {
    url,
    jwksUri: `${url}/jwks`,
    get jwksFetches () { return jwksFetches },
    get tokensIssued () { return tokensIssued },
    get kid () { return key.kid },
    sign,
    async rotate () { key = await newKey(alg) },
    async close () {
      server.closeAllConnections()
      await new Promise<void>((resolve) => { server.close(() => { resolve() }) })
    },
  }
}
