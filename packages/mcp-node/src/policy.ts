import { isTypedPattern, principalMatcher, typedFormsOf, type PrincipalMatcher } from './auth/principal.js'
import type { PolicyConfig } from './config.js'
import { globToRegExp } from './naming.js'

/** The outcome of a policy check. */
export interface PolicyDecision {
  allowed: boolean
  /** Why, for the error message and the log. */
  reason: string
}

/** What a permission is asked for: a tool (aggregated name), a resource (URI) or a prompt (aggregated name). */
export type PolicyTargetKind = 'tool' | 'resource' | 'prompt'

interface Patterns { allow: RegExp[] | undefined, deny: RegExp[] }

interface CompiledRule {
  principal: PrincipalMatcher
  /** The rule applies only to callers holding every one of these scopes. */
  scopes: readonly string[]
  kinds: Record<PolicyTargetKind, Patterns>
  index: number
}

const compile = (p: { allow?: string[] | undefined, deny?: string[] | undefined } | undefined): Patterns => ({
  allow: p?.allow?.map(globToRegExp),
  deny: (p?.deny ?? []).map(globToRegExp),
})

const ALLOW_BY_DEFAULT: PolicyDecision = Object.freeze({ allowed: true, reason: 'policy default allow' })
const DENY_BY_DEFAULT: PolicyDecision = Object.freeze({ allowed: false, reason: 'policy default deny and no rule allows it' })
/** Decisions a policy remembers (principal × target × kind × scopes) before it starts over. */
const MAX_CACHED_DECISIONS = 10_000

const KIND_FIELD: Record<PolicyTargetKind, string> = { tool: '', resource: '.resources', prompt: '.prompts' }

/**
 * Allow/deny by pattern per typed principal (`peer:<id>` on libp2p, `oauth:<issuer>#<sub>` or
 * `token:<subject>` on HTTP, `local` for stdio and in-process clients; `*` patterns allowed in
 * both; see `auth/principal.ts`), for each kind of target: tools
 * (`allow`/`deny`), resources (`resources.allow`/`.deny`, by URI) and prompts
 * (`prompts.allow`/`.deny`). A rule with `scopes` applies only to callers holding all of them.
 * Every rule that applies is considered: a matching `deny` pattern refuses; otherwise, when some
 * applying rule has an `allow` list for the kind, the target must match one of its patterns;
 * otherwise the default decides (for every kind).
 */
export class Policy {
  private readonly rules: CompiledRule[]
  private readonly fallback: 'allow' | 'deny'
  /** Decisions already taken (a policy never changes: a new version is a new Policy); cleared when full. */
  private readonly decided = new Map<string, PolicyDecision>()

  constructor (config: PolicyConfig) {
    this.fallback = config.default
    this.rules = config.rules.map((r, index) => ({
      principal: principalMatcher(r.principal),
      scopes: r.scopes ?? [],
      kinds: { tool: compile(r), resource: compile(r.resources), prompt: compile(r.prompts) },
      index,
    }))
  }

  /** Rule principals written without a kind (deprecated, decision 0175), for a warning at start. */
  legacyPatterns (): string[] {
    return this.rules.filter((r) => r.principal.legacy).map((r) => r.principal.pattern)
  }

  /** Whether `principal`, holding `scopes` (OAuth callers), may use `target` (a tool by default). */
  check (principal: string, target: string, scopes: readonly string[] = [], kind: PolicyTargetKind = 'tool'): PolicyDecision {
    if (this.rules.length === 0) return this.fallback === 'allow' ? ALLOW_BY_DEFAULT : DENY_BY_DEFAULT
    const key = scopes.length === 0 ? `${kind}\0${principal}\0${target}` : `${kind}\0${principal}\0${target}\0${scopes.join('\0')}`
    let d = this.decided.get(key)
    if (d === undefined) {
      if (this.decided.size >= MAX_CACHED_DECISIONS) this.decided.clear()
      d = this.decide(principal, target, scopes, kind)
      this.decided.set(key, d)
    }
    return d
  }

  private decide (principal: string, target: string, scopes: readonly string[], kind: PolicyTargetKind): PolicyDecision {
    let allowLists = 0
    let allowedBy: number | undefined
    for (const rule of this.rules) {
      if (!rule.principal.test(principal)) continue
      if (rule.scopes.length > 0 && !rule.scopes.every((s) => scopes.includes(s))) continue
      const p = rule.kinds[kind]
      for (const re of p.deny) {
        if (re.test(target)) return { allowed: false, reason: `denied by policy.rules.${rule.index}${KIND_FIELD[kind]} (${re.source})` }
      }
      if (p.allow !== undefined) {
        allowLists++
        if (allowedBy === undefined && p.allow.some((re) => re.test(target))) allowedBy = rule.index
      }
    }
    if (allowLists > 0) {
      return allowedBy === undefined
        ? { allowed: false, reason: `not in the ${kind} allow list of any policy rule for this principal` }
        : { allowed: true, reason: `allowed by policy.rules.${allowedBy}` }
    }
    return this.fallback === 'allow' ? ALLOW_BY_DEFAULT : DENY_BY_DEFAULT
  }
}

/**
 * The lowest policy command version that carries `policy` (decision 0180): 1 when it uses only
 * what the first release knew (tool allow/deny per principal), 2 otherwise. Proposing the lowest
 * keeps a mixed-release control plane working until a v2 feature is used.
 */
export function policyCommandVersion (policy: PolicyConfig): 1 | 2 {
  if (policy.limits !== undefined || policy.servers !== undefined) return 2
  return policy.rules.some((r) => r.scopes !== undefined || r.resources !== undefined || r.prompts !== undefined) ? 2 : 1
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
