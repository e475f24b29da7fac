import { globToRegExp } from '../naming.js'

/**
 * Who is calling, typed by how the peer knows it (decision 0175):
 *
 * | form | who | authenticated by |
 * | --- | --- | --- |
 * | `peer:<peer id>` | another peer of the mesh | Noise, on its libp2p connection |
 * | `oauth:<issuer>#<sub>` | a client with an OAuth 2.1 access token | the issuer's signature (JWKS) |
 * | `token:<subject>` | a client with a static bearer token of `http.tokens` | the token |
 * | `webhook:<id>` | a webhook of `events.webhooks` | the config |
 * | `local` | the stdio client and code in this process | the operating system |
 * | `anonymous` | an HTTP client of a front door without tokens (loopback only) | nobody |
 *
 * The kind is part of the string, so a token whose subject is `local` is `token:local` and
 * never gets stdio's rights.
 */
export type Principal =
  | `peer:${string}`
  | `oauth:${string}`
  | `token:${string}`
  | `webhook:${string}`
  | 'local'
  | 'anonymous'

/** The kinds of principal, in the order of the table above. */
export type PrincipalKind = 'peer' | 'oauth' | 'token' | 'webhook' | 'local' | 'anonymous'

/** The stdio client and code in this process. */
export const LOCAL_PRINCIPAL: Principal = 'local'
/** An HTTP client of a front door that has no tokens configured. */
export const ANONYMOUS_PRINCIPAL: Principal = 'anonymous'

/** Longest principal accepted (an issuer URL plus a subject fit easily). */
export const MAX_PRINCIPAL_LENGTH = 512

/**
 * A caller as policy sees it: the principal, the OAuth scopes its token granted (empty for
 * every other kind), and, when another peer asserted the identity across a hop, that peer.
 */
export interface Identity {
  readonly principal: Principal
  readonly scopes: readonly string[]
  /** `peer:<id>` of the entry peer that asserted this identity, when it came across a hop. */
  readonly assertedBy?: Principal
}

/** A principal string is not one of the typed forms. */
export class InvalidPrincipalError extends Error {
  override readonly name = 'InvalidPrincipalError'
  readonly code = 'ERR_MCP_NODE_INVALID_PRINCIPAL'
  constructor (value: string, why: string) {
    super(`${JSON.stringify(value.length > 80 ? `${value.slice(0, 80)}…` : value)} is not a principal: ${why}; write peer:<peer id>, oauth:<issuer>#<sub>, token:<subject>, webhook:<id>, local or anonymous`)
  }
}

function nonEmpty (kind: string, value: string): void {
  if (value.length === 0) throw new InvalidPrincipalError(`${kind}:`, `the ${kind} part is empty`)
  if (value.length + kind.length + 1 > MAX_PRINCIPAL_LENGTH) throw new InvalidPrincipalError(`${kind}:${value}`, `longer than ${MAX_PRINCIPAL_LENGTH} characters`)
}

/** `peer:<id>`: another peer, by its libp2p peer id. */
export function peerPrincipal (peerId: string): Principal {
  nonEmpty('peer', peerId)
  return `peer:${peerId}`
}

/** `oauth:<issuer>#<sub>`: the subject of an access token, qualified by its issuer (subjects are unique per issuer only). */
export function oauthPrincipal (issuer: string, subject: string): Principal {
  nonEmpty('oauth', issuer)
  nonEmpty('oauth', subject)
  if (issuer.includes('#')) throw new InvalidPrincipalError(`oauth:${issuer}#${subject}`, 'an issuer identifier has no fragment (#)')
  return `oauth:${issuer}#${subject}`
}

/** `token:<subject>`: the subject configured for a static bearer token. */
export function tokenPrincipal (subject: string): Principal {
  nonEmpty('token', subject)
  return `token:${subject}`
}

/** `webhook:<id>`: a configured webhook delivering events. */
export function webhookPrincipal (id: string): Principal {
  nonEmpty('webhook', id)
  return `webhook:${id}`
}

const KINDS = new Set<string>(['peer', 'oauth', 'token', 'webhook'])

/** The kind of a principal string, or undefined when it has none of the typed forms. */
export function principalKind (value: string): PrincipalKind | undefined {
  if (value === 'local' || value === 'anonymous') return value
  const colon = value.indexOf(':')
  if (colon <= 0) return undefined
  const kind = value.slice(0, colon)
  return KINDS.has(kind) && colon < value.length - 1 ? kind as PrincipalKind : undefined
}

/** Reads a principal string (from the control-plane log, a config, another peer); throws `InvalidPrincipalError`. */
export function parsePrincipal (value: string): Principal {
  if (value.length > MAX_PRINCIPAL_LENGTH) throw new InvalidPrincipalError(value, `longer than ${MAX_PRINCIPAL_LENGTH} characters`)
  const kind = principalKind(value)
  if (kind === undefined) throw new InvalidPrincipalError(value, 'it has no kind')
  if (kind === 'oauth' && !/^oauth:[^#]+#.+$/.test(value)) throw new InvalidPrincipalError(value, 'an oauth principal is oauth:<issuer>#<sub>')
  return value as Principal
}

/** A compiled principal pattern of a policy rule or an admin list. */
export interface PrincipalMatcher {
  readonly pattern: string
  /** True for a pattern without a kind (read as before typed principals, deprecated; decision 0175). */
  readonly legacy: boolean
  test: (principal: string) => boolean
}

/** Whether a pattern names a kind (`peer:…`, `oauth:…`, `token:…`, `webhook:…`, `local`, `anonymous`) or is `*`. */
export function isTypedPattern (pattern: string): boolean {
  if (pattern === '*' || pattern === 'local' || pattern === 'anonymous') return true
  const colon = pattern.indexOf(':')
  return colon > 0 && KINDS.has(pattern.slice(0, colon))
}

/**
 * Compiles a principal pattern (`*` and `?` globs). A typed pattern matches whole principals
 * (`peer:12D3Koo*`, `oauth:https://idp.example.com#*`, `token:ci-*`, `local`, `*`). A pattern
 * without a kind is read as it was before principals were typed, and deprecated: it matches
 * the id of a `peer:` principal or the subject of a `token:` principal (what a bare name
 * meant on libp2p and HTTP), never `local`, `anonymous`, `oauth:` or `webhook:`, so a token
 * subject can no longer reach stdio's rules.
 */
export function principalMatcher (pattern: string): PrincipalMatcher {
  const re = globToRegExp(pattern)
  if (isTypedPattern(pattern)) return { pattern, legacy: false, test: (p) => re.test(p) }
  return {
    pattern,
    legacy: true,
    test: (p) => {
      const kind = principalKind(p)
      if (kind === 'peer' || kind === 'token') return re.test(p.slice(kind.length + 1))
      // An untyped string (an in-process caller that predates principals) is compared as it is.
      return kind === undefined && re.test(p)
    },
  }
}

/** The typed forms a legacy pattern stands for, for the deprecation warning. */
export function typedFormsOf (pattern: string): string {
  return `peer:${pattern} or token:${pattern}`
}

/** The identity an HTTP door's `authInfo` carries (its `clientId` is the typed principal); `anonymous` without one. */
export function identityOfAuth (authInfo: { clientId: string, scopes: string[] } | undefined): Identity {
  if (authInfo === undefined) return { principal: ANONYMOUS_PRINCIPAL, scopes: [] }
  return { principal: parsePrincipal(authInfo.clientId), scopes: authInfo.scopes }
}
