// The HTTP front door as an OAuth 2.1 resource server (MCP authorization): a local
// authorization server made here (jose keys, JWKS and token endpoint on 127.0.0.1), a peer
// trusting it, real HTTP requests and the SDK client's own OAuth flow.
import { ClientCredentialsProvider } from '@modelcontextprotocol/sdk/client/auth-extensions.js'
import { UnauthorizedError, type OAuthClientProvider } from '@modelcontextprotocol/sdk/client/auth.js'
import { Client } from '@modelcontextprotocol/sdk/client/index.js'
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js'
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js'
import type { OAuthClientInformationMixed, OAuthClientMetadata, OAuthTokens } from '@modelcontextprotocol/sdk/shared/auth.js'
import { startTestIssuer, type TestIssuer } from '@p2p-mcp/testkit'
import { UnsecuredJWT } from 'jose'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { z } from 'zod'
import { createMcpNode, parseConfig, type McpNode } from '../../src/index.js'

const SCOPE = 'mcp:tools'
/** Where the authorization server sends the browser back (nothing listens: the test reads the redirect). */
const REDIRECT = 'http://127.0.0.1:9/oauth/callback'

/** A public client of the authorization-code flow with PKCE, as the MCP Inspector is: it keeps what the SDK asks it to. */
class InteractiveProvider implements OAuthClientProvider {
  authorizationUrl: URL | undefined
  private saved: OAuthTokens | undefined
  private verifier = ''
  get redirectUrl (): string { return REDIRECT }
  get clientMetadata (): OAuthClientMetadata {
    return { client_name: 'inspector-like', redirect_uris: [REDIRECT], grant_types: ['authorization_code'], response_types: ['code'], token_endpoint_auth_method: 'none' }
  }

  clientInformation (): OAuthClientInformationMixed { return { client_id: 'inspector-like' } }
  tokens (): OAuthTokens | undefined { return this.saved }
  saveTokens (tokens: OAuthTokens): void { this.saved = tokens }
  redirectToAuthorization (url: URL): void { this.authorizationUrl = url }
  saveCodeVerifier (verifier: string): void { this.verifier = verifier }
  codeVerifier (): string { return this.verifier }
}
let issuer: TestIssuer
let stranger: TestIssuer
let node: McpNode
let mcpUrl: URL
/** The resource this peer is (no mesh resource configured: its own origin). */
let resource: string

const INIT = { jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'raw', version: '1' } } }

async function post (token: string | undefined, path = mcpUrl.pathname): Promise<Response> {
  return await fetch(new URL(path, mcpUrl), {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream', ...(token === undefined ? {} : { authorization: `Bearer ${token}` }) },
    body: JSON.stringify(INIT),
  })
}

async function clientWith (token: string): Promise<Client> {
  const client = new Client({ name: 'oauth-test', version: '1' })
  await client.connect(new StreamableHTTPClientTransport(mcpUrl, { requestInit: { headers: { authorization: `Bearer ${token}` } } }))
  return client
}

beforeAll(async () => {
  issuer = await startTestIssuer({
    clients: { 'ci-bot': { secret: 'a-client-secret-for-tests', scopes: [SCOPE, 'mcp:other'] } },
    publicClients: { 'inspector-like': { redirectUris: [REDIRECT], scopes: [SCOPE] } },
    user: 'erin',
  })
  stranger = await startTestIssuer()
  node = createMcpNode({
    http: { oauth: { issuers: [{ issuer: issuer.url }], requiredScopes: [SCOPE], clockSkewS: 5, jwksCooldownMs: 0, resourceName: 'test mesh' } },
    policy: { rules: [{ principal: `oauth:${issuer.url}#bob`, deny: ['local__echo'] }] },
  })
  node.registerTool('echo', { inputSchema: { text: z.string() } }, ({ text }: { text: string }): Promise<CallToolResult> => Promise.resolve({ content: [{ type: 'text', text }] }))
  await node.start()
  await node.waitForTool('local__echo', { timeoutMs: 20_000 })
  mcpUrl = node.httpUrl!
  resource = `${mcpUrl.origin}/`
}, 60_000)

afterAll(async () => {
  await node?.stop({ graceMs: 1_000 })
  await issuer?.close()
  await stranger?.close()
})

describe('OAuth 2.1 resource server at the HTTP front door', () => {
  it('serves RFC 9728 metadata at the root and path-suffixed for /mcp and /servers/<name>/mcp', async () => {
    for (const path of ['/.well-known/oauth-protected-resource', '/.well-known/oauth-protected-resource/mcp', '/.well-known/oauth-protected-resource/servers/local/mcp']) {
      const res = await fetch(new URL(path, mcpUrl))
      expect(res.status).toBe(200)
      expect(await res.json()).toEqual({ resource, authorization_servers: [issuer.url], scopes_supported: [SCOPE], bearer_methods_supported: ['header'], resource_name: 'test mesh' })
    }
  })

  it('a valid token works; its principal is oauth:<iss>#<sub> and policy sees it', async () => {
    const alice = await clientWith(await issuer.sign({ sub: 'alice', aud: resource, scope: SCOPE }))
    expect(await alice.callTool({ name: 'local__echo', arguments: { text: 'hi' } })).toMatchObject({ content: [{ type: 'text', text: 'hi' }] })
    await alice.close()
    // The policy names bob by his typed principal: the same tool is refused to him.
    const bob = await clientWith(await issuer.sign({ sub: 'bob', aud: resource, scope: SCOPE }))
    expect((await bob.listTools()).tools.map((t) => t.name)).not.toContain('local__echo')
    await expect(bob.callTool({ name: 'local__echo', arguments: { text: 'hi' } })).rejects.toThrowError(new RegExp(`not allowed for principal "oauth:${issuer.url}#bob"`))
    await bob.close()
  })

  it('no token: 401 with the resource_metadata challenge (no error code, RFC 6750 §3.1)', async () => {
    const res = await post(undefined)
    expect(res.status).toBe(401)
    expect(res.headers.get('www-authenticate')).toBe(`Bearer scope="${SCOPE}", resource_metadata="${mcpUrl.origin}/.well-known/oauth-protected-resource/mcp"`)
    expect((await fetch(new URL('/healthz', mcpUrl))).status, '/healthz needs no token').toBe(200)
    expect((await fetch(new URL('/metrics', mcpUrl))).status, '/metrics needs one').toBe(401)
    const perServer = await post(undefined, '/servers/local/mcp')
    expect(perServer.headers.get('www-authenticate')).toContain(`resource_metadata="${mcpUrl.origin}/.well-known/oauth-protected-resource/servers/local/mcp"`)
  })

  it('refuses expired, not-yet-valid, wrong-audience, wrong-issuer, badly signed and alg:none tokens with 401 invalid_token', async () => {
    const now = Math.floor(Date.now() / 1000)
    const cases: Array<[string, string, RegExp]> = [
      ['expired', await issuer.sign({ sub: 'alice', aud: resource, scope: SCOPE, iat: now - 600, exp: now - 120 }), /expired/],
      ['not yet valid', await issuer.sign({ sub: 'alice', aud: resource, scope: SCOPE, nbf: now + 600 }), /not valid yet/],
      ['wrong audience', await issuer.sign({ sub: 'alice', aud: 'https://other.example/', scope: SCOPE }), /not issued for this resource/],
      ['no audience', await issuer.sign({ sub: 'alice', scope: SCOPE }), /aud/],
      ['wrong issuer', await stranger.sign({ sub: 'alice', aud: resource, scope: SCOPE }), /is not trusted/],
      ['forged iss', await stranger.sign({ sub: 'alice', aud: resource, scope: SCOPE, iss: issuer.url }), /signature|no key/],
      ['bad signature', await issuer.sign({ sub: 'alice', aud: resource, scope: SCOPE }, { key: 'foreign' }), /signature does not verify/],
      ['alg none', new UnsecuredJWT({ sub: 'alice', aud: resource, scope: SCOPE, iss: issuer.url }).setIssuedAt().setExpirationTime('5m').encode(), /algorithm 'none' is not accepted/],
      ['no sub', await issuer.sign({ aud: resource, scope: SCOPE }), /sub/],
      ['not a JWT', 'not-a-jwt-and-not-a-static-token', /token refused/],
    ]
    for (const [what, token, reason] of cases) {
      const res = await post(token)
      expect(res.status, what).toBe(401)
      const challenge = res.headers.get('www-authenticate') ?? ''
      expect(challenge, what).toMatch(/^Bearer error="invalid_token", error_description="[^"]+", scope="mcp:tools", resource_metadata="http:\/\/127\.0\.0\.1:\d+\/\.well-known\/oauth-protected-resource\/mcp"$/)
      expect(challenge, what).toMatch(reason)
    }
  })

  it('a token without the required scope: 403 insufficient_scope naming the scope', async () => {
    const res = await post(await issuer.sign({ sub: 'alice', aud: resource, scope: 'mcp:other' }))
    expect(res.status).toBe(403)
    expect(res.headers.get('www-authenticate')).toMatch(/^Bearer error="insufficient_scope", error_description="the token lacks the scope mcp:tools", scope="mcp:tools", resource_metadata="[^"]+\/mcp"$/)
  })

  it('guards 2026-07-28 stateless requests the same way: refused without a token, served with one as its principal', async () => {
    const modern = async (token?: string): Promise<Response> => await fetch(mcpUrl, {
      method: 'POST',
      headers: {
        'content-type': 'application/json', accept: 'application/json, text/event-stream', 'mcp-protocol-version': '2026-07-28', 'mcp-method': 'tools/call', 'mcp-name': 'local__echo',
        ...(token === undefined ? {} : { authorization: `Bearer ${token}` }),
      },
      body: JSON.stringify({
        jsonrpc: '2.0', id: 9, method: 'tools/call',
        params: { name: 'local__echo', arguments: { text: 'modern' }, _meta: { 'io.modelcontextprotocol/protocolVersion': '2026-07-28', 'io.modelcontextprotocol/clientInfo': { name: 'raw', version: '1' }, 'io.modelcontextprotocol/clientCapabilities': {} } },
      }),
    })
    const refused = await modern()
    expect(refused.status).toBe(401)
    expect(refused.headers.get('www-authenticate')).toContain('resource_metadata=')
    const ok = await modern(await issuer.sign({ sub: 'dave', aud: resource, scope: SCOPE }))
    expect(ok.status).toBe(200)
    expect(await ok.text()).toContain('modern')
    const bob = await modern(await issuer.sign({ sub: 'bob', aud: resource, scope: SCOPE }))
    expect(await bob.text()).toContain(`not allowed for principal \\"oauth:${issuer.url}#bob\\"`)
  })

  it('picks up a rotated key: a token under a new kid makes it fetch the JWKS again', async () => {
    const before = issuer.jwksFetches
    const oldKid = issuer.kid
    await issuer.rotate()
    expect(issuer.kid).not.toBe(oldKid)
    const client = await clientWith(await issuer.sign({ sub: 'carol', aud: resource, scope: SCOPE }))
    expect(await client.callTool({ name: 'local__echo', arguments: { text: 'rotated' } })).toMatchObject({ content: [{ text: 'rotated' }] })
    await client.close()
    expect(issuer.jwksFetches).toBeGreaterThan(before)
  })

  it("the SDK client's OAuth flow: 401 challenge → protected-resource metadata → authorization server metadata → client-credentials token → calls", async () => {
    const provider = new ClientCredentialsProvider({ clientId: 'ci-bot', clientSecret: 'a-client-secret-for-tests', scope: SCOPE, expectedIssuer: issuer.url })
    const issued = issuer.tokensIssued
    const client = new Client({ name: 'sdk-oauth', version: '1' })
    await client.connect(new StreamableHTTPClientTransport(mcpUrl, { authProvider: provider }))
    expect(await client.callTool({ name: 'local__echo', arguments: { text: 'via oauth' } })).toMatchObject({ content: [{ text: 'via oauth' }] })
    expect(issuer.tokensIssued).toBe(issued + 1)
    const token = provider.tokens()?.access_token ?? ''
    expect(JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString())).toMatchObject({ sub: 'ci-bot', aud: resource, scope: SCOPE })
    await client.close()
  })
})

describe('the interactive flow (authorization code + PKCE), as the MCP Inspector runs it', () => {
  it('401 → metadata → the browser is sent to the authorization server → the code comes back → token → calls as the user', async () => {
    const provider = new InteractiveProvider()
    const first = new StreamableHTTPClientTransport(mcpUrl, { authProvider: provider })
    await expect(new Client({ name: 'interactive', version: '1' }).connect(first)).rejects.toBeInstanceOf(UnauthorizedError)
    const url = provider.authorizationUrl!
    expect(url.origin).toBe(issuer.url)
    expect(url.searchParams.get('code_challenge_method')).toBe('S256')
    expect(url.searchParams.get('resource')).toBe(resource)
    // The "browser": the authorization server approves at once and redirects back with the code.
    const back = await fetch(url, { redirect: 'manual' })
    expect(back.status).toBe(302)
    const code = new URL(back.headers.get('location')!).searchParams.get('code')!
    await first.finishAuth(code)
    const client = new Client({ name: 'interactive', version: '1' })
    await client.connect(new StreamableHTTPClientTransport(mcpUrl, { authProvider: provider }))
    expect(await client.callTool({ name: 'local__echo', arguments: { text: 'as erin' } })).toMatchObject({ content: [{ text: 'as erin' }] })
    await client.close()
    const token = provider.tokens()!.access_token
    expect(JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString())).toMatchObject({ sub: 'erin', aud: resource, client_id: 'inspector-like' })
  })
})

describe('OAuth config', () => {
  const oauth = (issuer: Record<string, unknown>): unknown => ({ http: { oauth: { issuers: [{ issuer: 'https://idp.example.com', ...issuer }] } } })

  it('refuses none, HS* and plain http issuers off loopback, naming the field', () => {
    expect(() => parseConfig(oauth({ algorithms: ['HS256'] }))).toThrowError(/http\.oauth\.issuers\.0\.algorithms\.0: "HS256" is not accepted: an asymmetric JWS algorithm .*none and HS\* never are/)
    expect(() => parseConfig(oauth({ algorithms: ['none'] }))).toThrowError(/algorithms\.0: "none" is not accepted/)
    expect(() => parseConfig(oauth({ issuer: 'http://idp.example.com' }))).toThrowError(/http\.oauth\.issuers\.0\.issuer: .*needs https/)
    expect(() => parseConfig({ http: { oauth: { issuers: [] } } })).toThrowError(/http\.oauth\.issuers: at least one trusted authorization server/)
    expect(parseConfig(oauth({})).http.oauth).toMatchObject({ clockSkewS: 60, requiredScopes: [], issuers: [{ algorithms: expect.arrayContaining(['ES256', 'RS256', 'EdDSA']) as string[] }] })
  })
})
