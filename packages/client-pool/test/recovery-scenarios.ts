// Two fault scenarios on replicas that are real child processes (stdio), shared by the
// integration test (which asserts outcomes) and bench/recovery.ts (which prints the times):
// - restart: replica b is SIGKILLed under load, stays down until it is out of rotation, then
//   comes back; how soon after its first passing health check does it answer calls again,
//   and do sticky scopes move back onto it?
// - freeze: replica b is SIGSTOPped for a while under a mixed load (read-only and
//   non-idempotent calls); how long do the calls in flight on it wait, and does any
//   non-idempotent call run twice?
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createClientPool } from '../src/index.js'
import type { ClientPool, ClientPoolInit, ClientPoolScope } from '../src/index.js'
import { processReplica } from './process-replica.js'
import { nextEvent } from './replica.js'

/** Makes the pool (bench/recovery.ts passes another build's, to compare). */
export type CreatePool = (init: ClientPoolInit) => ClientPool

/** The health checks mcp-node gives each server's pool (packages/mcp-node/src/router.ts). */
export const MESH_HEALTH = { intervalMs: 2_000, timeoutMs: 2_000, unhealthyThreshold: 2, healthyThreshold: 1 }

/** Polls `check` every 20 ms until it holds; throws naming `what` after `timeoutMs`. */
export async function until (what: string, check: () => boolean, timeoutMs: number): Promise<void> {
  const deadline = performance.now() + timeoutMs
  while (!check()) {
    if (performance.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
}

/**
 * Opens `view`'s session to each endpoint (a new process each) before a load starts; on a
 * loaded machine a spawn can outlast a health check, which then gives the connect up: retry.
 */
async function warm (view: ClientPool | ClientPoolScope, ids: string[]): Promise<void> {
  for (const id of ids) {
    const deadline = performance.now() + 90_000
    for (;;) {
      try {
        await view.listTools(undefined, { endpoint: id, timeoutMs: 30_000 })
        break
      } catch (err) {
        if (performance.now() > deadline) throw err
        await new Promise((resolve) => setTimeout(resolve, 500))
      }
    }
  }
}

function textOf (result: Record<string, unknown>): string {
  const c = (result.content as Array<{ text?: string }> | undefined)?.[0]
  return c?.text ?? ''
}

export interface RestartResult {
  /** From b taking sessions again to its first passing health check (the `endpoint:healthy` event). */
  restartToHealthyMs: number
  /** From that health check to the first call b answered. */
  healthyToTrafficMs: number
  /** Whether b was ejected by outlier detection before it restarted. */
  ejected: boolean
  /** Sticky scopes on b once traffic returned, out of `scopes`. */
  scopesOnB: number
  scopes: number
  /** Calls that failed during the whole run (all are read-only: should be 0), and their errors. */
  failed: number
  errors: string[]
  rebalanced: number
}

/**
 * Replica b is killed under load from `scopes` sticky scopes, stays down until it is
 * unhealthy, then restarts. Waits at most `waitMs` for b to answer again.
 */
export async function restartScenario (init: Partial<ClientPoolInit> = {}, options: { scopes?: number, waitMs?: number, scopeRebalance?: boolean, create?: CreatePool } = {}): Promise<RestartResult> {
  const a = processReplica('a')
  const b = processReplica('b')
  const pool = (options.create ?? createClientPool)({
    endpoints: [a.spec, b.spec],
    healthCheck: MESH_HEALTH,
    retry: { minRetriesPerSecond: 100 },
    // mcp-node's backoff; a generous connect timeout, since every session is a new process.
    reconnect: { initialDelayMs: 100, maxDelayMs: 5_000, connectTimeoutMs: 20_000 },
    ...init,
  })
  let bHealthy = true
  let bEjected = false
  pool.addEventListener('endpoint:ejected', (e) => { if (e.detail.id === 'b') bEjected = true })
  pool.addEventListener('endpoint:unhealthy', (e) => { if (e.detail.id === 'b') bHealthy = false })
  pool.addEventListener('endpoint:healthy', (e) => { if (e.detail.id === 'b') bHealthy = true })
  const n = options.scopes ?? 6
  const waitMs = options.waitMs ?? 60_000
  const scopes: ClientPoolScope[] = Array.from({ length: n }, () => pool.scope(options.scopeRebalance === undefined ? {} : { rebalance: options.scopeRebalance }))
  const answers: Array<{ replica: string, at: number }> = []
  let failed = 0
  const errors: string[] = []
  let running = true
  const worker = async (view: ClientPool | ClientPoolScope): Promise<void> => {
    while (running) {
      try {
        answers.push({ replica: textOf(await view.callTool({ name: 'whoami', arguments: { ms: 20 } })), at: performance.now() })
      } catch (err) {
        failed++
        if (errors.length < 5) errors.push((err as Error).message)
      }
    }
  }
  try {
    // The scopes' sessions (one process each) open before the load starts.
    // One at a time: a storm of process spawns on a loaded machine outlasts connect timeouts.
    for (const view of [pool, ...scopes]) await warm(view, ['a', 'b'])
    const workers = [...scopes.map(worker), worker(pool)]
    await until('calls answered by both replicas', () => answers.some((x) => x.replica === 'a') && answers.some((x) => x.replica === 'b'), 30_000)
    b.kill()
    // Calls that still reach for b fail until outlier detection ejects it (for 30 s), as under
    // real load; then health checks find it unhealthy (on a loaded machine it may be already).
    for (let i = 0; i < 50 && !bEjected; i++) await pool.callTool({ name: 'whoami', arguments: {} }, { endpoint: 'b' }).catch(() => {})
    await until('b unhealthy', () => !bHealthy, 30_000)
    await until('every scope on a', () => scopes.every((s) => s.endpoint === 'a'), 30_000)
    const healthy = nextEvent(pool, 'endpoint:healthy', (d: { id: string }) => d.id === 'b', waitMs)
    const restartedAt = performance.now()
    b.restart()
    await healthy
    const healthyAt = performance.now()
    await until('a call answered by b after its restart', () => answers.some((x) => x.replica === 'b' && x.at > healthyAt), waitMs)
    const trafficAt = answers.find((x) => x.replica === 'b' && x.at > healthyAt)!.at
    // Each scope makes a call every few tens of ms: give them a few calls each to rebalance.
    const count = answers.length
    await until('a few more calls per scope', () => answers.length >= count + 10 * (n + 1), 30_000)
    running = false
    await Promise.all(workers)
    return {
      restartToHealthyMs: healthyAt - restartedAt,
      healthyToTrafficMs: Math.max(0, trafficAt - healthyAt),
      ejected: bEjected,
      scopesOnB: scopes.filter((s) => s.endpoint === 'b').length,
      scopes: n,
      failed,
      errors,
      rebalanced: pool.stats().rebalanced ?? 0,
    }
  } finally {
    running = false
    await pool.close({ signal: AbortSignal.timeout(5_000) })
    a.kill()
    b.kill()
  }
}

export interface CallRecord { tool: 'whoami' | 'charge', key: string, start: number, end: number, ok: boolean, error?: Error }

export interface FreezeResult {
  /** Read-only calls in flight when b froze, and the longest of their waits from the freeze. */
  safeInFlight: number
  safeMaxWaitMs: number
  /** Of those, how many ended before b was thawed. */
  safeEndedBeforeThaw: number
  safeFailed: number
  /** Non-idempotent calls in flight at the freeze, and the longest of their waits. */
  unsafeInFlight: number
  unsafeMaxWaitMs: number
  unsafeOk: number
  /** Non-idempotent calls that failed, by `CallFailedError` reason (or error name). */
  unsafeFailures: Record<string, number>
  /** Ledger keys written more than once (must be 0). */
  duplicated: number
  /** Non-idempotent calls that succeeded but are missing from the ledger (must be 0). */
  missing: number
  calls: CallRecord[]
  stalls: number
}

/** Replica b is SIGSTOPped for `freezeMs` under a mixed load of read-only and non-idempotent calls. */
export async function freezeScenario (init: Partial<ClientPoolInit> = {}, options: { freezeMs?: number, workers?: number, create?: CreatePool } = {}): Promise<FreezeResult> {
  const dir = mkdtempSync(join(tmpdir(), 'client-pool-freeze-'))
  const ledger = join(dir, 'ledger.txt')
  const a = processReplica('a', { LEDGER: ledger })
  const b = processReplica('b', { LEDGER: ledger })
  const pool = (options.create ?? createClientPool)({
    endpoints: [a.spec, b.spec],
    balancer: 'round-robin',
    healthCheck: MESH_HEALTH,
    requestTimeoutMs: 30_000,
    retry: { minRetriesPerSecond: 100 },
    reconnect: { initialDelayMs: 100, maxDelayMs: 5_000, connectTimeoutMs: 20_000 },
    ...init,
  })
  let stalls = 0
  pool.addEventListener('endpoint:stalled', () => { stalls++ })
  const freezeMs = options.freezeMs ?? 10_000
  const calls: CallRecord[] = []
  let running = true
  let seq = 0
  const worker = async (w: number): Promise<void> => {
    while (running) {
      const unsafe = (seq++ + w) % 2 === 0
      const key = `k${seq}`
      const record: CallRecord = { tool: unsafe ? 'charge' : 'whoami', key, start: performance.now(), end: 0, ok: false }
      calls.push(record)
      try {
        await pool.callTool(unsafe ? { name: 'charge', arguments: { key, ms: 100 } } : { name: 'whoami', arguments: { ms: 100 } })
        record.ok = true
      } catch (err) {
        record.error = err as Error
      }
      record.end = performance.now()
    }
  }
  try {
    // One session (process) per replica opened first, so that the load starts on both.
    await warm(pool, ['a', 'b'])
    const workers = Array.from({ length: options.workers ?? 8 }, async (_, w) => { await worker(w) })
    await until('some calls before the freeze', () => calls.filter((c) => c.ok).length >= 40, 30_000)
    const frozenAt = performance.now()
    b.freeze()
    await new Promise((resolve) => setTimeout(resolve, freezeMs))
    const thawedAt = performance.now()
    b.thaw()
    const done = calls.filter((c) => c.ok && c.end > thawedAt).length
    await until('calls after the thaw', () => calls.filter((c) => c.ok && c.end > thawedAt).length >= done + 20, 30_000)
    running = false
    await Promise.all(workers)
    const inFlight = calls.filter((c) => c.start < frozenAt && c.end > frozenAt)
    const safe = inFlight.filter((c) => c.tool === 'whoami')
    const unsafe = inFlight.filter((c) => c.tool === 'charge')
    const keys = readFileSync(ledger, 'utf8').trim().split('\n').map((l) => l.split(' ')[0]!)
    const seen = new Set<string>()
    let duplicated = 0
    for (const k of keys) {
      if (seen.has(k)) duplicated++
      seen.add(k)
    }
    const unsafeFailures: Record<string, number> = {}
    for (const c of calls) {
      if (c.tool !== 'charge' || c.ok) continue
      const e: (Error & { reason?: string }) | undefined = c.error
      const why = e?.reason ?? e?.name ?? 'unknown'
      unsafeFailures[why] = (unsafeFailures[why] ?? 0) + 1
    }
    return {
      safeInFlight: safe.length,
      safeMaxWaitMs: Math.max(0, ...safe.map((c) => c.end - frozenAt)),
      safeEndedBeforeThaw: safe.filter((c) => c.end < thawedAt).length,
      safeFailed: calls.filter((c) => c.tool === 'whoami' && !c.ok).length,
      unsafeInFlight: unsafe.length,
      unsafeMaxWaitMs: Math.max(0, ...unsafe.map((c) => c.end - frozenAt)),
      unsafeOk: calls.filter((c) => c.tool === 'charge' && c.ok).length,
      unsafeFailures,
      duplicated,
      missing: calls.filter((c) => c.tool === 'charge' && c.ok && !seen.has(c.key)).length,
      calls,
      stalls,
    }
  } finally {
    running = false
    b.thaw()
    await pool.close({ signal: AbortSignal.timeout(5_000) })
    a.kill()
    b.kill()
    rmSync(dir, { recursive: true, force: true })
  }
}
