import { createHash, timingSafeEqual } from 'node:crypto'
import type { IncomingMessage, ServerResponse } from 'node:http'
import type { AuthInfo } from '@modelcontextprotocol/sdk/server/auth/types.js'
import type { HttpConfig } from '../config.js'
import type { Logger } from '../logger.js'
import { AccessTokenVerifier, TokenRefusedError } from './oauth.js'
import { tokenPrincipal, type Principal } from './principal.js'

/** RFC 9728 well-known path of the protected-resource metadata; a resource's path is appended to it. */
export const PROTECTED_RESOURCE_PATH = '/.well-known/oauth-protected-resource'

/** Paths served without a token: liveness and the metadata a client needs to get one. */
const PUBLIC_PATHS = /^\/(healthz$|\.well-known\/)/

function digest (s: string): Buffer { return createHash('sha256').update(s).digest() }

/** A JWT has three base64url parts; a static token (≥ 16 characters of anything) rarely does. */
const JWT_SHAPE = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$/

/** Quotes a value for an RFC 6750 challenge parameter (double quotes become single, no backslashes or control characters). */
function quoted (value: string): string {
  return `"${value.replaceAll('"', "'").replace(/[\\\p{Cc}]/gu, ' ').slice(0, 300)}"`
}

export interface HttpAuthInit {
  config: HttpConfig
  /** The front door's own origin (`http://127.0.0.1:4000`), for the resource default and challenges. */
  origin: string
  /** Host headers the door accepts: a challenge names the host the client used when it is one of them. */
  allowedHosts: ReadonlySet<string>
  logger: Logger
}

/**
 * Who a request to the HTTP front door is: static bearer tokens (`token:<subject>`, compared
 * by sha256 digest in constant time) and OAuth 2.1 access tokens (`oauth:<iss>#<sub>`, verified
 * by `AccessTokenVerifier`). Refusals get the MCP authorization challenges: 401
 * `invalid_token` or 403 `insufficient_scope`, each with `resource_metadata` pointing at the
 * RFC 9728 document this class also serves (at the root and path-suffixed for every MCP path).
 */
export class HttpAuth {
  private readonly tokens: Array<{ hash: Buffer, principal: Principal }>
  private readonly verifier: AccessTokenVerifier | undefined
  private readonly init: HttpAuthInit
  /** The resource URI tokens must carry in `aud`. */
  readonly resource: string | undefined
  private readonly verified = new WeakMap<IncomingMessage, AuthInfo>()

  constructor (init: HttpAuthInit) {
    this.init = init
    const c = init.config
    this.tokens = c.tokens.map((t) => ({ hash: digest(t.token), principal: tokenPrincipal(t.subject) }))
    const o = c.oauth
    if (o !== undefined) {
      // Without a configured mesh resource, this peer is its own resource (per-peer audience).
      this.resource = o.resource ?? `${init.origin}/`
      this.verifier = new AccessTokenVerifier({
        issuers: o.issuers,
        resource: this.resource,
        audiences: o.audiences,
        requiredScopes: o.requiredScopes,
        clockSkewS: o.clockSkewS,
        jwksTimeoutMs: o.jwksTimeoutMs,
        jwksCooldownMs: o.jwksCooldownMs,
        jwksMaxAgeMs: o.jwksMaxAgeMs,
        verifiedCacheSize: o.verifiedTokenCache,
        logger: init.logger,
      })
    }
  }

  /** Whether requests need a token at all. */
  get enabled (): boolean { return this.tokens.length > 0 || this.verifier !== undefined }

  /** The identity checked for `req` by `admit`, for the MCP handler's `verifyToken`. */
  authInfoOf (req: IncomingMessage): AuthInfo | undefined {
    return this.verified.get(req)
  }

  /**
   * Answers the protected-resource metadata, or authenticates a request that needs a token
   * (writing the challenge when it fails). Returns true when the request may go on.
   */
  async admit (req: IncomingMessage, res: ServerResponse): Promise<boolean> {
    const path = new URL(req.url ?? '/', 'http://localhost').pathname
    if (this.verifier !== undefined && req.method === 'GET' && (path === PROTECTED_RESOURCE_PATH || path.startsWith(`${PROTECTED_RESOURCE_PATH}/`))) {
      res.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'max-age=300' })
      res.end(JSON.stringify(this.metadata()))
      return false
    }
    if (!this.enabled) return true
    const token = /^Bearer\s+(\S+)\s*$/i.exec(req.headers.authorization ?? '')?.[1]
    if (PUBLIC_PATHS.test(path)) {
      // Served to anyone; a valid token still identifies the caller (`/healthz` shows it more).
      if (token !== undefined) await this.authenticate(token).then((info) => { this.verified.set(req, info) }, () => {})
      return true
    }
    try {
      if (token === undefined) throw new TokenRefusedError(401, 'invalid_token', 'a bearer token is required')
      this.verified.set(req, await this.authenticate(token))
      return true
    } catch (err) {
      if (!(err instanceof TokenRefusedError)) throw err
      this.init.logger.debug({ path, status: err.status, error: err.error }, 'request refused: %s', err.message)
      res.writeHead(err.status, { 'content-type': 'application/json', 'www-authenticate': this.challenge(req, path, err, token !== undefined) })
      res.end(JSON.stringify({ jsonrpc: '2.0', error: { code: -32001, message: `${err.status === 401 ? 'Unauthorized' : 'Forbidden'}: ${err.message}` }, id: null }))
      return false
    }
  }

  /** Verifies one bearer token: a static token first (cheap), then a JWT. */
  async authenticate (token: string): Promise<AuthInfo> {
    if (this.tokens.length > 0) {
      const h = digest(token)
      let principal: Principal | undefined
      for (const t of this.tokens) if (timingSafeEqual(t.hash, h)) principal = t.principal
      if (principal !== undefined) return { token, clientId: principal, scopes: [] }
    }
    if (this.verifier === undefined || !JWT_SHAPE.test(token)) throw new TokenRefusedError(401, 'invalid_token', 'token refused')
    const v = await this.verifier.verify(token)
    return { token, clientId: v.principal, scopes: v.scopes, expiresAt: v.expiresAt, extra: { issuer: v.issuer, subject: v.subject, ...(v.clientId === undefined ? {} : { oauthClientId: v.clientId }) } }
  }

  /** RFC 9728 protected-resource metadata. */
  metadata (): Record<string, unknown> {
    const o = this.init.config.oauth!
    return {
      resource: this.resource,
      authorization_servers: o.issuers.map((i) => i.issuer),
      scopes_supported: o.scopesSupported ?? o.requiredScopes,
      bearer_methods_supported: ['header'],
      ...(o.resourceName === undefined ? {} : { resource_name: o.resourceName }),
    }
  }

  /** The metadata URL for a request path: the host the client used (when allowed) or the public URL. */
  metadataUrl (req: IncomingMessage, path: string): string {
    const publicUrl = this.init.config.oauth?.publicUrl
    const host = (req.headers.host ?? '').toLowerCase()
    const origin = publicUrl !== undefined ? new URL(publicUrl).origin : this.init.allowedHosts.has(host) ? `http://${host}` : this.init.origin
    return `${origin}${PROTECTED_RESOURCE_PATH}${path === '/' ? '' : path}`
  }

  private challenge (req: IncomingMessage, path: string, err: TokenRefusedError, hadToken: boolean): string {
    const parts: string[] = []
    // RFC 6750 §3.1: a request without credentials gets no error code.
    if (hadToken || err.status === 403) parts.push(`error=${quoted(err.error)}`, `error_description=${quoted(err.message)}`)
    const scopes = this.init.config.oauth?.requiredScopes ?? []
    if (scopes.length > 0) parts.push(`scope=${quoted(scopes.join(' '))}`)
    if (this.verifier !== undefined) parts.push(`resource_metadata=${quoted(this.metadataUrl(req, path))}`)
    return parts.length === 0 ? 'Bearer' : `Bearer ${parts.join(', ')}`
  }
}
