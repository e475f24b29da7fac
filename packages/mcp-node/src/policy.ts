import type { PolicyConfig } from './config.js'
import { globToRegExp } from './naming.js'

/** The outcome of a policy check. */
export interface PolicyDecision {
  allowed: boolean
  /** Why, for the error message and the log. */
  reason: string
}

interface CompiledRule {
  principal: RegExp
  allow: RegExp[] | undefined
  deny: RegExp[]
  index: number
}

/**
 * Allow/deny by tool-name pattern per principal (peer id on libp2p, token subject on HTTP,
 * `local` for stdio and in-process clients; `*` patterns allowed in both). Every rule whose
 * principal matches applies: a matching `deny` pattern refuses; otherwise, when some
 * matching rule has an `allow` list, the tool must match one of its patterns; otherwise the
 * default decides.
 */
export class Policy {
  private readonly rules: CompiledRule[]
  private readonly fallback: 'allow' | 'deny'

  constructor (config: PolicyConfig) {
    this.fallback = config.default
    this.rules = config.rules.map((r, index) => ({
      principal: globToRegExp(r.principal),
      allow: r.allow?.map(globToRegExp),
      deny: (r.deny ?? []).map(globToRegExp),
      index,
    }))
  }

  check (principal: string, tool: string): PolicyDecision {
    let allowLists = 0
    let allowedBy: number | undefined
    for (const rule of this.rules) {
      if (!rule.principal.test(principal)) continue
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
