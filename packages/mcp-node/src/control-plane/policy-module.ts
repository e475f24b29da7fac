import { z } from 'zod'
import { PolicySchema, type PolicyConfig } from '../config.js'
import { principalMatcher } from '../auth/principal.js'
import { firstIssue, fromJsonBytes, toJsonBytes } from './codec-json.js'
import { reject } from './types.js'
import type { ApplyContext, ReplicatedModule } from './types.js'

/** The replicated policy: the config file's allow/deny rules plus who may change them. */
export interface ReplicatedPolicy {
  /** 0 until the bootstrapping peer seeded it; +1 on every change. */
  version: number
  policy: PolicyConfig
  /** Principals (patterns with `*`) allowed to change the policy. */
  admins: string[]
  updatedAtMs: number
  updatedBy: string
}

const MAX_ADMINS = 64

/** A policy snapshot, as another replica may send it. */
const PolicySnapshotSchema: z.ZodType<ReplicatedPolicy> = z.object({
  // the policy as the leader holds it, not re-parsed: a schema's defaults or rewrites must not make this replica's state differ
  version: z.number().int().min(0), policy: z.custom<PolicyConfig>((v) => typeof v === 'object' && v !== null && !Array.isArray(v) && Array.isArray((v as { rules?: unknown }).rules), 'a policy { default, rules }'),
  admins: z.array(z.string()).max(MAX_ADMINS), updatedAtMs: z.number(), updatedBy: z.string(),
})
const admins = z.array(z.string().min(1).max(256)).max(MAX_ADMINS)

/**
 * The policy of command version 1, exactly as the first release decoded it: tool allow/deny per
 * principal. Kept so that a log written by that release replays the same way (decision 0180).
 */
const PolicyV1Schema = z.strictObject({
  default: z.enum(['allow', 'deny']).default('allow'),
  rules: z.array(z.strictObject({ principal: z.string().min(1), allow: z.array(z.string().min(1)).optional(), deny: z.array(z.string().min(1)).optional() })).default([]),
})

const commandSchema = (policy: typeof PolicySchema | typeof PolicyV1Schema) => z.discriminatedUnion('op', [
  z.strictObject({ op: z.literal('seed'), policy, admins, by: z.string().min(1).max(256) }),
  z.strictObject({
    op: z.literal('set'),
    /** The principal asking, as the entry peer authenticated it. */
    principal: z.string().min(1).max(256),
    policy: policy.optional(),
    admins: admins.optional(),
    /** Compare-and-set on the policy version. */
    expectVersion: z.number().int().min(0).optional(),
  }),
])

/** By command version: 1 = tool rules only; 2 = adds scopes, resource and prompt rules, limits and server access policies. */
const COMMAND_SCHEMAS = { 1: commandSchema(PolicyV1Schema), 2: commandSchema(PolicySchema) } as const

export type PolicyCommand = z.input<(typeof COMMAND_SCHEMAS)[2]>

/** Whether `principal` matches one of the policy's admin patterns. */
/**
 * The refusal of an admin command applied before the group's seed: the admins are not known
 * yet (a group created moments ago), which is not the same as not being one.
 */
export const POLICY_NOT_SEEDED = {
  name: 'PolicyNotSeededError',
  message: 'the replicated policy is not seeded yet (the control-plane group was created moments ago and its admins are not applied): retry in a second',
} as const

export function isAdmin (p: ReplicatedPolicy, principal: string): boolean {
  return p.admins.some((a) => principalMatcher(a).test(principal))
}

/**
 * The `policy` module: seeded once from the bootstrapping peer's config, then changed only by
 * admins. Admin membership is checked here, in apply, against the replicated admin list, so
 * every replica decides the same way.
 */
export class PolicyModule implements ReplicatedModule {
  readonly name = 'policy'
  readonly version = 2
  private state: ReplicatedPolicy = PolicyModule.empty()
  private readonly listeners = new Set<(p: ReplicatedPolicy) => void>()

  static empty (): ReplicatedPolicy {
    return { version: 0, policy: { default: 'allow', rules: [] }, admins: [], updatedAtMs: 0, updatedBy: '' }
  }

  /** The current replicated policy (version 0: not seeded yet). */
  get current (): ReplicatedPolicy { return this.state }

  /** Calls `listener` after every change; returns the unsubscribe function. */
  onChange (listener: (p: ReplicatedPolicy) => void): () => void {
    this.listeners.add(listener)
    return () => { this.listeners.delete(listener) }
  }

  isAdmin (principal: string): boolean {
    return isAdmin(this.state, principal)
  }

  /** False until the bootstrapping leader's seed (the config's policy and admins) is applied. */
  get seeded (): boolean {
    return this.state.version > 0
  }

  apply (command: unknown, ctx: ApplyContext): unknown {
    const parsed = COMMAND_SCHEMAS[(ctx.commandVersion ?? 1) >= 2 ? 2 : 1].safeParse(command)
    if (!parsed.success) return reject('InvalidCommandError', `policy command: ${firstIssue(parsed.error)}`)
    const c = parsed.data
    if (c.op === 'seed') {
      if (this.state.version > 0) return { ok: true, seeded: false, version: this.state.version }
      this.set({ version: 1, policy: c.policy, admins: c.admins, updatedAtMs: ctx.timeMs, updatedBy: c.by })
      return { ok: true, seeded: true, version: 1 }
    }
    if (!this.seeded) return reject(POLICY_NOT_SEEDED.name, POLICY_NOT_SEEDED.message)
    if (!this.isAdmin(c.principal)) {
      return reject('NotAdminError', `principal ${JSON.stringify(c.principal)} is not a policy admin (admins: ${this.state.admins.length === 0 ? 'none' : this.state.admins.join(', ')}); ask an admin, or list it under controlPlane.admins in the bootstrapping peer's config`)
    }
    if (c.expectVersion !== undefined && c.expectVersion !== this.state.version) {
      return reject('VersionMismatchError', `policy is at version ${this.state.version}, not ${c.expectVersion}: read it again and retry`)
    }
    if (c.policy === undefined && c.admins === undefined) return reject('InvalidCommandError', 'policy set needs policy or admins')
    const nextAdmins = c.admins ?? this.state.admins
    if (nextAdmins.length === 0) return reject('InvalidCommandError', 'a policy needs at least one admin, or nobody could change it again')
    this.set({ version: this.state.version + 1, policy: c.policy ?? this.state.policy, admins: nextAdmins, updatedAtMs: ctx.timeMs, updatedBy: c.principal })
    return { ok: true, version: this.state.version }
  }

  private set (next: ReplicatedPolicy): void {
    this.state = next
    for (const l of this.listeners) {
      try { l(next) } catch { /* a listener's failure is its own */ }
    }
  }

  snapshot (): Uint8Array { return toJsonBytes(this.state) }

  restore (data: Uint8Array): void {
    this.set(fromJsonBytes(data, PolicySnapshotSchema, 'policy') ?? PolicyModule.empty())
  }
}
