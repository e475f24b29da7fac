import { createRemoteJWKSet, decodeJwt, decodeProtectedHeader, errors as joseErrors, jwtVerify, type JWTPayload, type JWTVerifyGetKey } from 'jose'
import type { Logger } from '../logger.js'
import { errorMessage } from '../errors.js'
import { oauthPrincipal, type Principal } from './principal.js'

/** Asymmetric JWS algorithms only: never `none`, never HS* (a shared secret cannot come from a public JWKS). */
export const ASYMMETRIC_ALGORITHMS = ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA', 'Ed25519'] as const
export type AsymmetricAlgorithm = typeof ASYMMETRIC_ALGORITHMS[number]

/** How long a discovery document or JWKS fetch may take. */
export const DEFAULT_JWKS_TIMEOUT_MS = 5_000
/** Shortest interval between two JWKS fetches of one issuer (a token with an unknown `kid` waits for this after the last fetch). */
export const DEFAULT_JWKS_COOLDOWN_MS = 30_000
/** How long fetched keys are trusted without a refetch. */
export const DEFAULT_JWKS_MAX_AGE_MS = 600_000
/** After a failed discovery, how long before it is tried again. */
const DISCOVERY_RETRY_MS = 5_000
/** Largest discovery document read. */
const MAX_DISCOVERY_BYTES = 64 * 1024
/** Verified tokens remembered (a client sends the same token on every call until it expires). */
export const DEFAULT_VERIFIED_TOKEN_CACHE = 10_000

/** One trusted authorization server. */
export interface OAuthIssuer {
  /** The `iss` its tokens carry, exactly (RFC 8414 issuer identifier). */
  issuer: string
  /** Its JWKS; when absent, `jwks_uri` of its metadata (`/.well-known/oauth-authorization-server`, then `openid-configuration`). */
  jwksUri?: string | undefined
  /** Algorithms accepted for its tokens. */
  algorithms: readonly AsymmetricAlgorithm[]
}

/** The resource server's settings (`http.oauth` of the config, with the resource resolved). */
export interface OAuthVerifierInit {
  issuers: readonly OAuthIssuer[]
  /** The resource URI tokens must name in `aud` (RFC 8707): the mesh's, or this peer's own. */
  resource: string
  /** Further accepted audiences (a per-peer resource next to the mesh's, say). */
  audiences: readonly string[]
  /** Scopes every token needs (else 403 insufficient_scope). */
  requiredScopes: readonly string[]
  /** Tolerance on `exp`, `nbf` and `iat`. */
  clockSkewS: number
  jwksTimeoutMs: number
  jwksCooldownMs: number
  jwksMaxAgeMs: number
  /** Verified tokens remembered until they expire, so a repeated token costs a map lookup (0: verify every time). */
  verifiedCacheSize?: number
  /** The clock, in milliseconds (tests move it). @default Date.now */
  now?: () => number
  logger: Logger
}

/** A verified access token. */
export interface VerifiedToken {
  principal: Principal
  scopes: string[]
  /** Seconds since the epoch. */
  expiresAt: number
  issuer: string
  subject: string
  /** `client_id` (RFC 9068) or `azp` of the token, when present. */
  clientId?: string
}

/** An access token refused: the HTTP status and the RFC 6750 error of the challenge. */
export class TokenRefusedError extends Error {
  override readonly name = 'TokenRefusedError'
  readonly code = 'ERR_MCP_NODE_TOKEN_REFUSED'
  readonly status: 401 | 403
  readonly error: 'invalid_token' | 'insufficient_scope'
  constructor (status: 401 | 403, error: 'invalid_token' | 'insufficient_scope', description: string, options?: ErrorOptions) {
    super(description, options)
    this.status = status
    this.error = error
  }
}

const invalid = (why: string, cause?: unknown): TokenRefusedError => new TokenRefusedError(401, 'invalid_token', why, cause === undefined ? undefined : { cause })

/** The RFC 8414 metadata URLs of an issuer, in the order tried (path-inserted form, then OpenID Connect's). */
export function discoveryUrls (issuer: string): URL[] {
  const u = new URL(issuer)
  const path = u.pathname === '/' ? '' : u.pathname.replace(/\/$/, '')
  return [
    new URL(`/.well-known/oauth-authorization-server${path}`, u.origin),
    new URL(`/.well-known/openid-configuration${path}`, u.origin),
    new URL(`${path}/.well-known/openid-configuration`, u.origin),
  ]
}

/** The scopes of a token: `scope` (space-separated, RFC 9068) or `scp` (an array, as some providers write it). */
export function scopesOf (payload: JWTPayload): string[] {
  const scope = payload.scope
  if (typeof scope === 'string') return scope.split(' ').filter((s) => s.length > 0)
  const scp = payload.scp
  if (Array.isArray(scp)) return scp.filter((s): s is string => typeof s === 'string')
  if (typeof scp === 'string') return scp.split(' ').filter((s) => s.length > 0)
  return []
}

interface IssuerState {
  readonly issuer: OAuthIssuer
  jwks: JWTVerifyGetKey | undefined
  discovering: Promise<JWTVerifyGetKey> | undefined
  failedAt: number
}

/**
 * Verifies JWT access tokens for the HTTP front door (an OAuth 2.1 resource server, MCP
 * authorization): signature against the issuer's JWKS (fetched once, cached, refetched on an
 * unknown `kid` at most once per cooldown), `iss` among the trusted issuers, `aud` naming
 * this resource, `exp`/`nbf` with the configured skew, an asymmetric algorithm the issuer is
 * allowed, then the required scopes. The principal is `oauth:<iss>#<sub>`.
 */
export class AccessTokenVerifier {
  private readonly init: OAuthVerifierInit
  private readonly issuers = new Map<string, IssuerState>()
  private readonly audiences: string[]
  /** Token → its verification, in insertion order (the oldest is dropped first). */
  private readonly verified = new Map<string, VerifiedToken>()

  constructor (init: OAuthVerifierInit) {
    this.init = init
    for (const issuer of init.issuers) this.issuers.set(issuer.issuer, { issuer, jwks: undefined, discovering: undefined, failedAt: 0 })
    this.audiences = [init.resource, ...init.audiences]
  }

  private clock (): number { return this.init.now?.() ?? Date.now() }

  /** The issuers, for the protected-resource metadata's `authorization_servers`. */
  get issuerIds (): string[] { return [...this.issuers.keys()] }

  /** Verifies `token`; throws `TokenRefusedError` with the status and challenge error. */
  async verify (token: string): Promise<VerifiedToken> {
    const known = this.verified.get(token)
    if (known !== undefined) {
      if (known.expiresAt + this.init.clockSkewS > this.clock() / 1000) return known
      this.verified.delete(token)
      throw invalid('the token has expired')
    }
    const v = await this.verifyNow(token)
    const size = this.init.verifiedCacheSize ?? DEFAULT_VERIFIED_TOKEN_CACHE
    if (size > 0) {
      if (this.verified.size >= size) this.verified.delete(this.verified.keys().next().value!)
      this.verified.set(token, v)
    }
    return v
  }

  private async verifyNow (token: string): Promise<VerifiedToken> {
    let alg: unknown
    let iss: unknown
    try {
      alg = decodeProtectedHeader(token).alg
      iss = decodeJwt(token).iss
    } catch (err) {
      throw invalid('the bearer token is not a JWT access token', err)
    }
    if (typeof iss !== 'string') throw invalid('the token has no iss claim')
    const state = this.issuers.get(iss)
    if (state === undefined) throw invalid(`issuer ${JSON.stringify(iss.slice(0, 200))} is not trusted by this resource`)
    if (typeof alg !== 'string' || !(state.issuer.algorithms as readonly string[]).includes(alg)) {
      throw invalid(`algorithm ${JSON.stringify(alg)} is not accepted (accepted: ${state.issuer.algorithms.join(', ')})`)
    }
    const jwks = await this.keysOf(state)
    let payload: JWTPayload
    try {
      payload = (await jwtVerify(token, jwks, {
        issuer: iss,
        audience: this.audiences,
        algorithms: [...state.issuer.algorithms],
        clockTolerance: this.init.clockSkewS,
        currentDate: new Date(this.clock()),
        requiredClaims: ['exp', 'sub'],
      })).payload
    } catch (err) {
      throw invalid(describeJoseError(err), err)
    }
    const scopes = scopesOf(payload)
    const missing = this.init.requiredScopes.filter((s) => !scopes.includes(s))
    if (missing.length > 0) throw new TokenRefusedError(403, 'insufficient_scope', `the token lacks the scope ${missing.join(' ')}`)
    const clientId = typeof payload.client_id === 'string' ? payload.client_id : typeof payload.azp === 'string' ? payload.azp : undefined
    return {
      principal: oauthPrincipal(iss, payload.sub!),
      scopes,
      expiresAt: payload.exp!,
      issuer: iss,
      subject: payload.sub!,
      ...(clientId === undefined ? {} : { clientId }),
    }
  }

  private async keysOf (state: IssuerState): Promise<JWTVerifyGetKey> {
    if (state.jwks !== undefined) return state.jwks
    if (state.discovering === undefined) {
      if (Date.now() - state.failedAt < DISCOVERY_RETRY_MS) throw invalid(`the keys of issuer ${state.issuer.issuer} cannot be fetched right now; retry in a few seconds`)
      state.discovering = this.discover(state.issuer).then((uri) => {
        const { jwksTimeoutMs, jwksCooldownMs, jwksMaxAgeMs } = this.init
        const jwks = createRemoteJWKSet(uri, { timeoutDuration: jwksTimeoutMs, cooldownDuration: jwksCooldownMs, cacheMaxAge: jwksMaxAgeMs })
        state.jwks = jwks
        return jwks
      }, (err: unknown) => {
        state.failedAt = Date.now()
        this.init.logger.warn({ issuer: state.issuer.issuer, err: errorMessage(err) }, 'OAuth issuer discovery failed')
        throw invalid(`the keys of issuer ${state.issuer.issuer} cannot be fetched: ${errorMessage(err)}`, err)
      }).finally(() => { state.discovering = undefined })
    }
    return await state.discovering
  }

  private async discover (issuer: OAuthIssuer): Promise<URL> {
    if (issuer.jwksUri !== undefined) return new URL(issuer.jwksUri)
    const problems: string[] = []
    for (const url of discoveryUrls(issuer.issuer)) {
      try {
        const res = await fetch(url, { signal: AbortSignal.timeout(this.init.jwksTimeoutMs), headers: { accept: 'application/json' }, redirect: 'error' })
        if (!res.ok) { problems.push(`${url.href}: HTTP ${res.status}`); continue }
        const text = await res.text()
        if (text.length > MAX_DISCOVERY_BYTES) { problems.push(`${url.href}: larger than ${MAX_DISCOVERY_BYTES} bytes`); continue }
        const meta = JSON.parse(text) as { issuer?: unknown, jwks_uri?: unknown }
        // RFC 8414 §3.3: the metadata must name the issuer it was fetched for.
        if (meta.issuer !== issuer.issuer) { problems.push(`${url.href}: names issuer ${JSON.stringify(meta.issuer)}`); continue }
        if (typeof meta.jwks_uri !== 'string') { problems.push(`${url.href}: no jwks_uri`); continue }
        return new URL(meta.jwks_uri)
      } catch (err) {
        problems.push(`${url.href}: ${errorMessage(err)}`)
      }
    }
    throw new Error(`no authorization server metadata with a jwks_uri (${problems.join('; ')}); set jwksUri for this issuer`)
  }
}

/** A short, client-safe reason for a jose verification failure. */
function describeJoseError (err: unknown): string {
  if (err instanceof joseErrors.JWTExpired) return 'the token has expired'
  if (err instanceof joseErrors.JWTClaimValidationFailed) {
    if (err.claim === 'aud') return 'the token was not issued for this resource (aud)'
    if (err.claim === 'nbf') return 'the token is not valid yet (nbf)'
    return `the token's ${err.claim} claim is not accepted (${err.reason})`
  }
  if (err instanceof joseErrors.JWSSignatureVerificationFailed) return 'the token signature does not verify'
  if (err instanceof joseErrors.JWKSNoMatchingKey) return 'no key of the issuer matches the token (kid)'
  if (err instanceof joseErrors.JOSEAlgNotAllowed) return 'the token algorithm is not accepted'
  if (err instanceof joseErrors.JWKSTimeout) return 'the issuer\'s keys could not be fetched in time'
  return `the token is not valid (${errorMessage(err).slice(0, 200)})`
}
