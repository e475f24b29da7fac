import { isTypedPattern, principalMatcher, typedFormsOf, type PrincipalMatcher } from './auth/principal.js'
import type { PolicyConfig } from './config.js'
import { globToRegExp } from './naming.js'

/** The outcome of a policy check. */
export interface PolicyDecision {
  allowed: boolean
  /** Why, for the error message and the log. */
  reason: string
}

interface CompiledRule {
  principal: PrincipalMatcher
  /** The rule applies only to callers holding every one of these scopes. */
  scopes: readonly string[]
  allow: RegExp[] | undefined
  deny: RegExp[]
  index: number
}

/**
 * Allow/deny by tool-name pattern per typed principal (`peer:<id>` on libp2p,
 * `oauth:<issuer>#<sub>` or `token:<subject>` on HTTP, `local` for stdio and in-process
 * clients; `*` patterns allowed in both; see `auth/principal.ts`), optionally only for callers
 * holding some OAuth scopes. Every rule whose principal (and scopes) match applies: a matching
 * `deny` pattern refuses; otherwise, when some matching rule has an `allow` list, the tool
 * must match one of its patterns; otherwise the default decides.
 */
export class Policy {
  private readonly rules: CompiledRule[]
  private readonly fallback: 'allow' | 'deny'

  constructor (config: PolicyConfig) {
    this.fallback = config.default
    this.rules = config.rules.map((r, index) => ({
      principal: principalMatcher(r.principal),
      scopes: r.scopes ?? [],
      allow: r.allow?.map(globToRegExp),
      deny: (r.deny ?? []).map(globToRegExp),
      index,
    }))
  }

  /** Rule principals written without a kind (deprecated, decision 0175), for a warning at start. */
  legacyPatterns (): string[] {
    return this.rules.filter((r) => r.principal.legacy).map((r) => r.principal.pattern)
  }

  /** Whether `principal`, holding `scopes` (OAuth callers), may call `tool`. */
  check (principal: string, tool: string, scopes: readonly string[] = []): PolicyDecision {
    let allowLists = 0
    let allowedBy: number | undefined
    for (const rule of this.rules) {
      if (!rule.principal.test(principal)) continue
      if (rule.scopes.length > 0 && !rule.scopes.every((s) => scopes.includes(s))) continue
      const denied = rule.deny.find((re) => re.test(tool))
      if (denied !== undefined) return { allowed: false, reason: `denied by policy.rules.${rule.index} (${denied.source})` }
      if (rule.allow !== undefined) {
        allowLists++
        if (allowedBy === undefined && rule.allow.some((re) => re.test(tool))) allowedBy = rule.index
      }
    }
    if (allowLists > 0) {
      return allowedBy === undefined
        ? { allowed: false, reason: 'not in the allow list of any policy rule for this principal' }
        : { allowed: true, reason: `allowed by policy.rules.${allowedBy}` }
    }
    return this.fallback === 'allow'
      ? { allowed: true, reason: 'policy default allow' }
      : { allowed: false, reason: 'policy default deny and no rule allows it' }
  }
}

/**
 * The deprecation warning for rule principals and admin patterns written without a kind
 * (decision 0175), or undefined when every pattern is typed.
 */
export function legacyPrincipalWarning (policy: PolicyConfig, admins: readonly string[] = []): string | undefined {
  const legacy = [...policy.rules.map((r) => r.principal), ...admins].filter((p) => !isTypedPattern(p))
  if (legacy.length === 0) return undefined
  const shown = [...new Set(legacy)].slice(0, 5).map((p) => `${JSON.stringify(p)} (now ${typedFormsOf(p)})`).join(', ')
  return `policy principals without a kind are deprecated and match peer ids and static-token subjects only: ${shown}; write peer:<id>, token:<subject>, oauth:<issuer>#<sub> or local`
}
