import type { PolicyConfig } from '../config.js'
import { Policy, type PolicyDecision } from '../policy.js'

/**
 * The policy a peer enforces on `tools/call`: the replicated policy (once the control plane
 * has one) and then this peer's own config, which may only restrict further: a call must be
 * allowed by both. Before the control plane answers, the config alone decides.
 */
export class LayeredPolicy extends Policy {
  private replicated: Policy | undefined
  private replicatedVersion = 0

  constructor (local: PolicyConfig) {
    super(local)
  }

  /** Installs a newer replicated policy (older versions are ignored). */
  setReplicated (policy: PolicyConfig, version: number): void {
    if (version <= this.replicatedVersion) return
    this.replicated = new Policy(policy)
    this.replicatedVersion = version
  }

  get version (): number { return this.replicatedVersion }

  override check (principal: string, tool: string, scopes: readonly string[] = []): PolicyDecision {
    if (this.replicated !== undefined) {
      const d = this.replicated.check(principal, tool, scopes)
      if (!d.allowed) return { allowed: false, reason: `replicated policy v${this.replicatedVersion}: ${d.reason}` }
    }
    const local = super.check(principal, tool, scopes)
    return local.allowed || this.replicated === undefined ? local : { allowed: false, reason: `this peer's config: ${local.reason}` }
  }
}
