import type { PolicyConfig, ServerAccessPolicy } from '../config.js'
import type { LayeredPolicy } from '../control-plane/layered-policy.js'
import { principalMatcher, type PrincipalMatcher } from '../auth/principal.js'
import { globToRegExp } from '../naming.js'
import type { LimitSpec } from './limiter.js'

type PrincipalLimit = NonNullable<PolicyConfig['limits']>[number]

interface CompiledLimit {
  readonly rule: PrincipalLimit
  readonly principal: PrincipalMatcher
  readonly server: RegExp | undefined
  /** Stable across peers and unrelated policy edits: the layer and the rule's own JSON. */
  readonly id: string
  readonly label: string
}

const NONE: LimitSpec[] = []
const MAX_CACHED_ENTRIES = 10_000

function compile (limits: PolicyConfig['limits'], layer: 'mesh' | 'peer'): CompiledLimit[] {
  return (limits ?? []).map((rule, i) => ({
    rule,
    principal: principalMatcher(rule.principal),
    server: rule.server === undefined ? undefined : globToRegExp(rule.server),
    id: `${layer}:${JSON.stringify([rule.principal, rule.server ?? null, rule.requestsPerMinute ?? null, rule.burst ?? null, rule.maxConcurrent ?? null])}`,
    label: `${layer === 'mesh' ? 'replicated policy' : 'this peer\'s config'} policy.limits.${i}`,
  }))
}

function describe (what: { requestsPerMinute?: number | undefined, maxConcurrent?: number | undefined }): string {
  return [
    ...(what.requestsPerMinute === undefined ? [] : [`${what.requestsPerMinute} requests per minute`]),
    ...(what.maxConcurrent === undefined ? [] : [`${what.maxConcurrent} at once`]),
  ].join(', ')
}

/**
 * Which limits a request passes (decision 0182). At the entry peer, per principal: the
 * replicated policy's `limits` (shared mesh-wide by gossip) and this peer's own `policy.limits`
 * (exact here, restricting further). At the serving peer, per server, for every caller together:
 * the replicated policy's `servers.<name>` when set, else the server's own access policy (its
 * `upstreams[].accessPolicy`, announced in its descriptor), and this peer's `policy.servers.<name>`.
 */
export class LimitPlan {
  private readonly policy: LayeredPolicy
  private readonly accessPolicy: (server: string) => ServerAccessPolicy | undefined
  private readonly local: CompiledLimit[]
  private mesh: CompiledLimit[] = []
  private meshVersion = -1
  /** The entry limits already worked out per principal and server (for this policy version); cleared when full. */
  private readonly entries = new Map<string, LimitSpec[]>()

  constructor (policy: LayeredPolicy, accessPolicy: (server: string) => ServerAccessPolicy | undefined) {
    this.policy = policy
    this.accessPolicy = accessPolicy
    this.local = compile(policy.layers().local.limits, 'peer')
  }

  /** The per-principal limits of a request by `principal` to `server`, at the entry peer. */
  entry (principal: string, server: string): LimitSpec[] {
    if (this.meshVersion !== this.policy.version) {
      this.mesh = compile(this.policy.layers().replicated?.limits, 'mesh')
      this.meshVersion = this.policy.version
      this.entries.clear()
    }
    if (this.mesh.length === 0 && this.local.length === 0) return NONE
    const key = `${principal}\0${server}`
    let specs = this.entries.get(key)
    if (specs === undefined) {
      if (this.entries.size >= MAX_CACHED_ENTRIES) this.entries.clear()
      specs = this.entryNow(principal, server)
      this.entries.set(key, specs)
    }
    return specs
  }

  private entryNow (principal: string, server: string): LimitSpec[] {
    const out: LimitSpec[] = []
    for (const [list, shared] of [[this.mesh, true], [this.local, false]] as const) {
      for (const l of list) {
        if (!l.principal.test(principal) || (l.server !== undefined && !l.server.test(server))) continue
        out.push({
          key: l.server === undefined ? `${l.id}|${principal}` : `${l.id}|${principal}|${server}`,
          label: `${l.label} (${describe(l.rule)} for principal ${JSON.stringify(principal)}${l.server === undefined ? '' : ` on server ${JSON.stringify(server)}`})`,
          requestsPerMinute: l.rule.requestsPerMinute,
          burst: l.rule.burst,
          maxConcurrent: l.rule.maxConcurrent,
          shared,
        })
      }
    }
    return out
  }

  /** The per-server limits of a request to `server`, at a peer that serves it. */
  serving (server: string): LimitSpec[] {
    const { replicated, local } = this.policy.layers()
    const out: LimitSpec[] = []
    const add = (p: ServerAccessPolicy | undefined, key: string, label: string): void => {
      if (p === undefined || (p.requestsPerMinute === undefined && p.maxConcurrentExecutions === undefined)) return
      out.push({
        key,
        label: `${label} (${describe({ requestsPerMinute: p.requestsPerMinute, maxConcurrent: p.maxConcurrentExecutions })} on server ${JSON.stringify(server)} at this peer)`,
        requestsPerMinute: p.requestsPerMinute,
        burst: p.burst,
        maxConcurrent: p.maxConcurrentExecutions,
        shared: false,
      })
    }
    const override = replicated?.servers?.[server]
    if (override !== undefined) add(override, `server:mesh:${server}:${JSON.stringify(override)}`, `replicated policy servers.${server}`)
    else add(this.accessPolicy(server), `server:own:${server}`, `the access policy of server ${server}`)
    add(local.servers?.[server], `server:peer:${server}`, `this peer's config policy.servers.${server}`)
    return out
  }
}
