import { McpError } from '@modelcontextprotocol/sdk/types.js'
import type { AuditedMethod, AuditLog, AuditOutcome } from './audit/audit-log.js'
import { POLICY_DENIED_CODE, RATE_LIMITED_CODE } from './constants.js'
import { PolicyDeniedError, RateLimitedError } from './errors.js'
import type { CallLimiter, LimitSpec } from './limits/limiter.js'
import type { LimitPlan } from './limits/limit-plan.js'
import type { Policy, PolicyTargetKind } from './policy.js'

/** One request as a door sees it, before it runs. */
export interface AccessRequest {
  method: AuditedMethod
  principal: string
  scopes?: readonly string[]
  /** `peer:<id>` of the entry peer that asserted `principal` across a hop (decision 0176): it must be allowed too. */
  assertedBy?: string
  /** Aggregated tool or prompt name, or resource URI. */
  target: string
  kind: PolicyTargetKind
  /** The server of the mesh it is for. */
  server: string
  /** `entry`: a client's request; `serving`: another peer's route to a server hosted here. */
  role: 'entry' | 'serving'
  /** Check the policy and the per-principal limits (false on this peer's own route sessions). */
  enforce: boolean
  requestId?: string
  /** The request's own signal: aborted means the outcome is `cancelled`. */
  signal?: AbortSignal
}

/** What the request's run reports back: the peer that served it. */
export interface Served { peer: string }

/**
 * The checks every `tools/call`, `resources/read` and `prompts/get` passes at a door, in order —
 * the policy (per principal), the per-principal limits (entry) and the per-server limits
 * (serving) — and its audit entry whatever the outcome. Refusals are `McpError`s with a
 * documented code: -32003 (policy) and -32029 (limits, `retryAfterMs` in `error.data`).
 */
export class AccessControl {
  readonly policy: Policy
  readonly audit: AuditLog
  private readonly plan: LimitPlan
  private readonly limiter: CallLimiter
  private readonly self: string

  constructor (init: { self: string, policy: Policy, plan: LimitPlan, limiter: CallLimiter, audit: AuditLog }) {
    this.self = init.self
    this.policy = init.policy
    this.plan = init.plan
    this.limiter = init.limiter
    this.audit = init.audit
  }

  /** Whether the caller may see `target` in a list. */
  visible (req: { principal: string, scopes?: readonly string[] | undefined, enforce: boolean }, target: string, kind: PolicyTargetKind): boolean {
    return !req.enforce || this.policy.check(req.principal, target, req.scopes, kind).allowed
  }

  /** The limits `req` must pass. */
  limits (req: AccessRequest): LimitSpec[] {
    // A caller's own limits are counted once, where it entered: across a hop (an asserted caller)
    // the serving peer counts the asserting peer's instead (decision 0182).
    const entry = req.enforce ? this.plan.entry(req.assertedBy ?? req.principal, req.server) : []
    return req.role === 'serving' ? [...entry, ...this.plan.serving(req.server)] : entry
  }

  /**
   * Checks `req` against the policy and the limits. Admitted: call `finish` once when it ends
   * (it releases the limits and writes the audit entry). Refused: the audit entry is written and
   * `error` is what to answer.
   */
  admit (req: AccessRequest): Admitted | Refused {
    const started = performance.now()
    const record = (outcome: AuditOutcome, peer: string, reason?: string): void => {
      this.audit.record({
        at: Date.now(), method: req.method, principal: req.principal, target: req.target, server: req.server, peer, outcome, role: req.role,
        ...(req.assertedBy === undefined ? {} : { assertedBy: req.assertedBy }),
        durationMs: Math.round((performance.now() - started) * 1000) / 1000,
        ...(reason === undefined ? {} : { reason }), ...(req.requestId === undefined ? {} : { requestId: req.requestId }),
      })
    }
    const self = req.role === 'serving' ? this.self : ''
    if (req.enforce) {
      // Across a hop both the asserting peer and the caller it asserted must be allowed.
      const whom = req.assertedBy === undefined ? [{ principal: req.principal, scopes: req.scopes }] : [{ principal: req.assertedBy, scopes: [] }, { principal: req.principal, scopes: req.scopes }]
      for (const who of whom) {
        const d = this.policy.check(who.principal, req.target, who.scopes, req.kind)
        if (d.allowed) continue
        record('denied', self, d.reason)
        const denied = new PolicyDeniedError(who.principal, req.target, d.reason, req.kind)
        return { ok: false, error: new McpError(POLICY_DENIED_CODE, denied.message, { name: denied.name, code: denied.code }) }
      }
    }
    const admission = this.limiter.acquire(this.limits(req))
    if (!admission.ok) {
      const limited = new RateLimitedError(admission.limit, admission.spec.label, admission.retryAfterMs)
      record('rate_limited', self, limited.message)
      return { ok: false, error: new McpError(RATE_LIMITED_CODE, limited.message, { name: limited.name, code: limited.code, limit: limited.limit, retryAfterMs: limited.retryAfterMs }) }
    }
    let finished = false
    return {
      ok: true,
      finish: (outcome, peer, reason) => {
        if (finished) return
        finished = true
        admission.release()
        record(outcome, peer ?? self, reason)
      },
      drop: () => {
        if (finished) return
        finished = true
        admission.release()
      },
    }
  }

  /**
   * Runs `run` when the policy and the limits allow `req`, and audits it. `outcomeOf` reads a
   * result that is an error in disguise (a tool's `isError`).
   */
  async guard<T> (req: AccessRequest, run: (served: Served) => Promise<T>, outcomeOf?: (result: T) => AuditOutcome): Promise<T> {
    const a = this.admit(req)
    if (!a.ok) throw a.error
    const served: Served = { peer: req.role === 'serving' ? this.self : '' }
    let outcome: AuditOutcome = 'ok'
    let reason: string | undefined
    try {
      const result = await run(served)
      outcome = outcomeOf?.(result) ?? 'ok'
      return result
    } catch (err) {
      const e = err as { name?: string, message?: string, code?: unknown }
      outcome = req.signal?.aborted === true || e?.name === 'AbortError' ? 'cancelled' : e?.code === RATE_LIMITED_CODE ? 'rate_limited' : 'error'
      reason = `${req.kind} failed: ${e?.message ?? String(err)}`
      throw err
    } finally {
      a.finish(outcome, served.peer, reason)
    }
  }
}

/** An admitted request: `finish` it once, with its outcome and the peer that served it. */
export interface Admitted {
  ok: true
  finish: (outcome: AuditOutcome, peer?: string, reason?: string) => void
  /** Releases the limits without an audit entry: the request is handed to a path that audits it itself. */
  drop: () => void
}
/** A refused request: answer `error` (-32003 or -32029 with `retryAfterMs`). */
export interface Refused { ok: false, error: McpError }
