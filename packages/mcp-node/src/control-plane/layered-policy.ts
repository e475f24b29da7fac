import type { PolicyConfig } from '../config.js'
import { principalMatcher, type PrincipalMatcher } from '../auth/principal.js'
import { Policy, type PolicyDecision, type PolicyTargetKind } from '../policy.js'

/**
 * The policy a peer enforces on `tools/call`, `resources/read` and `prompts/get` (and in the
 * lists): the replicated policy (once the control plane has one) and then this peer's own config,
 * which may only restrict further: a request must be allowed by both. Before the control plane
 * answers, the config alone decides. It also holds the limits of both layers (the limiter reads
 * them) and the admins (who may read `mesh://audit`).
 */
export class LayeredPolicy extends Policy {
  private replicated: Policy | undefined
  private replicatedVersion = 0
  private readonly localConfig: PolicyConfig
  private replicatedConfig: PolicyConfig | undefined
  private adminPatterns: PrincipalMatcher[]
  private readonly listeners = new Set<() => void>()

  constructor (local: PolicyConfig, admins: readonly string[] = []) {
    super(local)
    this.localConfig = local
    this.adminPatterns = admins.map(principalMatcher)
  }

  /** Installs a newer replicated policy (older versions are ignored). */
  setReplicated (policy: PolicyConfig, version: number, admins?: readonly string[]): void {
    if (version <= this.replicatedVersion) return
    this.replicated = new Policy(policy)
    this.replicatedConfig = policy
    this.replicatedVersion = version
    if (admins !== undefined) this.adminPatterns = admins.map(principalMatcher)
    for (const l of this.listeners) l()
  }

  get version (): number { return this.replicatedVersion }

  /** Calls `listener` after each newer replicated policy; returns the unsubscribe function. */
  onChange (listener: () => void): () => void {
    this.listeners.add(listener)
    return () => { this.listeners.delete(listener) }
  }

  /** The two layers' configs: the replicated one (undefined before the control plane has one) and this peer's. */
  layers (): { replicated: PolicyConfig | undefined, local: PolicyConfig } {
    return { replicated: this.replicatedConfig, local: this.localConfig }
  }

  /** Whether `principal` is an admin of the replicated policy (or of this peer's `controlPlane.admins` before it has one). */
  isAdmin (principal: string): boolean {
    return this.adminPatterns.some((re) => re.test(principal))
  }

  override check (principal: string, target: string, scopes: readonly string[] = [], kind: PolicyTargetKind = 'tool'): PolicyDecision {
    if (this.replicated !== undefined) {
      const d = this.replicated.check(principal, target, scopes, kind)
      if (!d.allowed) return { allowed: false, reason: `replicated policy v${this.replicatedVersion}: ${d.reason}` }
    }
    const local = super.check(principal, target, scopes, kind)
    return local.allowed || this.replicated === undefined ? local : { allowed: false, reason: `this peer's config: ${local.reason}` }
  }
}
