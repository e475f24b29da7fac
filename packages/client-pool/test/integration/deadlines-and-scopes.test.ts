// Deadlines (timeouts, caller aborts, progress), scoped sessions, drain and close.
import { afterEach, describe, expect, it } from 'vitest'
import { createClientPool, PoolClosedError } from '../../src/index.js'
import type { ClientPool, ClientPoolInit } from '../../src/index.js'
import { Replica } from '../replica.js'

let pool: ClientPool | undefined
let replicas: Replica[] = []

afterEach(async () => {
  await pool?.close()
  for (const r of replicas) await r.close()
  pool = undefined
  replicas = []
})

function setup (init: ClientPoolInit = {}, ids = ['a', 'b', 'c']): ClientPool {
  replicas = ids.map((id) => new Replica({ id }))
  pool = createClientPool({ endpoints: replicas.map((r) => r.spec), healthCheck: false, ...init })
  return pool
}

function text (r: unknown): string {
  return ((r as { content: Array<{ text: string }> }).content)[0]!.text
}

describe('deadlines', () => {
  it('a timeout cancels the request and the server sees the cancellation', async () => {
    const pool = setup({ retry: false }, ['a'])
    const err = await pool.callTool({ name: 'work', arguments: { steps: 1, stepMs: 5_000 } }, { timeoutMs: 50 }).catch((e: unknown) => e as Error)
    expect(err).toBeInstanceOf(Error)
    expect(err.name).toBe('CallFailedError')
    expect(err.message).toMatch(/timed out/)
    await expect.poll(() => replicas[0]!.cancelled, { timeout: 2_000 }).toBe(1)
  })

  it('the caller\'s signal cancels the request, is not retried, and rethrows the abort reason', async () => {
    const pool = setup()
    const controller = new AbortController()
    const call = pool.callTool({ name: 'work', arguments: { steps: 1, stepMs: 5_000 } }, { signal: controller.signal })
    await expect.poll(() => replicas.reduce((s, r) => s + r.calls('work'), 0)).toBe(1)
    controller.abort(new Error('user pressed stop'))
    await expect(call).rejects.toThrow('user pressed stop')
    await expect.poll(() => replicas.reduce((s, r) => s + r.cancelled, 0), { timeout: 2_000 }).toBe(1)
    expect(replicas.reduce((s, r) => s + r.calls('work'), 0)).toBe(1)
    expect(pool.stats().retries).toBe(0)
    for (const e of pool.stats().endpoints) expect(e.failures).toBe(0)
  })

  it('progress extends the timeout of a long call', async () => {
    const pool = setup({ retry: false }, ['a'])
    const progress: number[] = []
    // 8 steps of 40 ms = 320 ms, with a 120 ms timeout that each progress notification resets.
    const r = await pool.callTool({ name: 'work', arguments: { steps: 8, stepMs: 40 } }, { timeoutMs: 120, onProgress: (p) => progress.push(p.progress) })
    expect(text(r)).toBe('worked 8')
    expect(progress).toEqual([1, 2, 3, 4, 5, 6, 7, 8])
    // A scope's progress handler asks for progress too, and so extends the deadline.
    const seen: number[] = []
    const scope = pool.scope({ handlers: { progress: (p, ctx) => { seen.push(p.progress); expect(ctx.endpointId).toBe('a') } } })
    expect(text(await scope.callTool({ name: 'work', arguments: { steps: 8, stepMs: 40 } }, { timeoutMs: 120 }))).toBe('worked 8')
    expect(seen).toHaveLength(8)
    // Nobody listening: no progress is asked for (the server sends none), so the timeout holds.
    await expect(pool.callTool({ name: 'work', arguments: { steps: 8, stepMs: 40 } }, { timeoutMs: 120 })).rejects.toThrow(/timed out/)
    // maxTotalTimeoutMs is a hard cap that progress does not move.
    const capped = await pool.callTool({ name: 'work', arguments: { steps: 8, stepMs: 40 } }, { timeoutMs: 120, maxTotalTimeoutMs: 150 }).catch((e: unknown) => e as Error)
    expect(capped.message).toMatch(/timed out|total timeout/i)
  })

  // 6 steps of 30 ms = 180 ms against a 120 ms timeout: it ends only if progress extends it.
  const long = { name: 'work', arguments: { steps: 6, stepMs: 30 } }

  it('extendTimeoutOnProgress: progress extends the deadline of a call nobody listens to', async () => {
    const pool = setup({ retry: false }, ['a'])
    expect(text(await pool.callTool(long, { timeoutMs: 120, extendTimeoutOnProgress: true }))).toBe('worked 6')
    // false keeps the deadline fixed although progress is listened to (and arrives).
    const progress: number[] = []
    await expect(pool.callTool(long, { timeoutMs: 120, extendTimeoutOnProgress: false, onProgress: (p) => progress.push(p.progress) }))
      .rejects.toThrow(/timed out/)
    expect(progress.length).toBeGreaterThan(0)
    expect(progress.length).toBeLessThan(6)
    // Extended or not, maxTotalTimeoutMs is a hard cap.
    await expect(pool.callTool(long, { timeoutMs: 120, maxTotalTimeoutMs: 130, extendTimeoutOnProgress: true })).rejects.toThrow(/timed out|total timeout/i)
  })

  it('extendTimeoutOnProgress as a pool default and a scope default; the call\'s own wins', async () => {
    const pool = setup({ retry: false, extendTimeoutOnProgress: true, toolTimeoutsMs: { work: 120 } }, ['a'])
    expect(text(await pool.callTool(long))).toBe('worked 6')
    await expect(pool.callTool(long, { extendTimeoutOnProgress: false })).rejects.toThrow(/timed out/)
    const fixed = pool.scope({ extendTimeoutOnProgress: false })
    await expect(fixed.callTool(long)).rejects.toThrow(/timed out/)
    expect(text(await fixed.callTool(long, { extendTimeoutOnProgress: true }))).toBe('worked 6')
    await fixed.close()
  })

  it('a scope can turn it on when the pool has it off', async () => {
    const pool = setup({ retry: false, toolTimeoutsMs: { work: 120 } }, ['a'])
    await expect(pool.callTool(long)).rejects.toThrow(/timed out/)
    const scope = pool.scope({ extendTimeoutOnProgress: true })
    expect(text(await scope.callTool(long))).toBe('worked 6')
    expect(() => pool.scope({ extendTimeoutOnProgress: 'yes' as unknown as boolean })).toThrow(/option scope extendTimeoutOnProgress is "yes"/)
    expect(() => createClientPool({ extendTimeoutOnProgress: 1 as unknown as boolean })).toThrow(/option extendTimeoutOnProgress is 1/)
  })

  it('per-tool timeouts override the pool timeout, and a call\'s own timeout overrides both', async () => {
    const pool = setup({ retry: false, requestTimeoutMs: 5_000, toolTimeoutsMs: { work: 60 } }, ['a'])
    await expect(pool.callTool({ name: 'work', arguments: { steps: 1, stepMs: 300 } })).rejects.toThrow(/timed out/)
    const r = await pool.callTool({ name: 'work', arguments: { steps: 1, stepMs: 100 } }, { timeoutMs: 1_000 })
    expect(text(r)).toBe('worked 1')
  })
})

describe('scopes', () => {
  it('two scopes with different capabilities each receive only their own sampling requests', async () => {
    const pool = setup({ balancer: 'round-robin' })
    const gotA: string[] = []
    const gotB: string[] = []
    const logsA: string[] = []
    const sample = (got: string[], answer: string) => async (params: { messages: Array<{ content: unknown }> }, ctx: { endpointId: string }) => {
      await Promise.resolve()
      got.push(`${ctx.endpointId}:${(params.messages[0]!.content as { text: string }).text}`)
      return { role: 'assistant' as const, model: 'test', content: { type: 'text' as const, text: answer } }
    }
    const scopeA = pool.scope({
      capabilities: { sampling: {} },
      handlers: {
        sampling: sample(gotA, 'from A'),
        notification: (n) => { if (n.method === 'notifications/message') logsA.push(String(n.params.data)) },
      },
    })
    const scopeB = pool.scope({ capabilities: { sampling: {}, roots: {} }, handlers: { sampling: sample(gotB, 'from B'), roots: async () => await Promise.resolve({ roots: [] }) } })
    for (let i = 0; i < 3; i++) {
      expect(text(await scopeA.callTool({ name: 'ask', arguments: { question: `qa${i}` } }))).toBe('from A')
      expect(text(await scopeB.callTool({ name: 'ask', arguments: { question: `qb${i}` } }))).toBe('from B')
    }
    expect(gotA.map((g) => g.split(':')[1])).toEqual(['qa0', 'qa1', 'qa2'])
    expect(gotB.map((g) => g.split(':')[1])).toEqual(['qb0', 'qb1', 'qb2'])
    // Sticky: each scope kept to one endpoint, and got the server's log messages of its own calls.
    expect(new Set(gotA.map((g) => g.split(':')[0])).size).toBe(1)
    expect(scopeA.endpoint).toBe(gotA[0]!.split(':')[0])
    expect(logsA).toHaveLength(3)
    expect(logsA.every((l) => l.includes('asks qa'))).toBe(true)
    // Each upstream session declared its scope's capabilities.
    const declared = replicas.flatMap((r) => r.clientCapabilities).map((c) => JSON.stringify(c))
    expect(declared).toContain(JSON.stringify({ sampling: {} }))
    expect(declared).toContain(JSON.stringify({ sampling: {}, roots: {} }))
    await scopeA.close()
    await scopeB.close()
    await expect(scopeA.callTool({ name: 'echo', arguments: { text: 'x' } })).rejects.toThrow(PoolClosedError)
  })

  it('the unscoped pool declares no capabilities, so a server cannot sample through it', async () => {
    const pool = setup({ retry: false }, ['a'])
    const r = await pool.callTool({ name: 'ask', arguments: { question: 'q' } })
    expect(r.isError).toBe(true)
    expect(JSON.stringify(replicas[0]!.clientCapabilities[0])).toBe('{}')
  })

  it('a sticky scope moves when its endpoint drains, and stays moved', async () => {
    const pool = setup()
    const scope = pool.scope({})
    await scope.callTool({ name: 'echo', arguments: { text: 'x' } })
    const first = scope.endpoint!
    for (let i = 0; i < 10; i++) expect(text(await scope.callTool({ name: 'echo', arguments: { text: 'x' } })).split(':')[0]).toBe(first)
    await pool.drain(first)
    const second = text(await scope.callTool({ name: 'echo', arguments: { text: 'x' } })).split(':')[0]
    expect(second).not.toBe(first)
    for (let i = 0; i < 10; i++) expect(text(await scope.callTool({ name: 'echo', arguments: { text: 'x' } })).split(':')[0]).toBe(second)
  })

  it('rejects handlers without the matching capability', () => {
    const pool = setup()
    expect(() => pool.scope({ handlers: { sampling: async () => await Promise.reject(new Error('x')) } })).toThrow(/capabilities.sampling/)
  })
})

describe('drain, remove and close', () => {
  it('drain waits for the endpoint\'s calls in flight; remove forgets it', async () => {
    const pool = setup({}, ['a', 'b'])
    const slow = pool.callTool({ name: 'work', arguments: { steps: 1, stepMs: 150 } }, { endpoint: 'a' })
    await expect.poll(() => replicas[0]!.calls('work')).toBe(1)
    let drained = false
    const drain = pool.drain('a').then(() => { drained = true })
    expect(pool.stats().endpoints.find((e) => e.id === 'a')!.state).toBe('draining')
    for (let i = 0; i < 5; i++) expect(text(await pool.callTool({ name: 'echo', arguments: { text: 'x' } }))).toBe('b:x')
    expect(drained).toBe(false)
    expect(text(await slow)).toBe('worked 1')
    await drain
    expect(drained).toBe(true)
    await pool.remove('a')
    expect(pool.ids()).toEqual(['b'])
    // Its session was closed from our side, handshake and all.
    expect([...replicas[0]!.sessions].every((s) => s.transport.dead)).toBe(true)
    expect(pool.stats().endpoints.map((e) => e.id)).toEqual(['b'])
  })

  it('close({ signal }) aborted: calls in flight fail at once and no session is reopened', async () => {
    const pool = setup({}, ['a', 'b'])
    const calls = Array.from({ length: 4 }, async () => await pool.callTool({ name: 'work', arguments: { steps: 1, stepMs: 5_000 } }).then(() => 'ok', (e: unknown) => (e as Error).name))
    await expect.poll(() => replicas.reduce((s, r) => s + r.calls('work'), 0)).toBe(4)
    const sessionsBefore = replicas.map((r) => r.sessions.size)
    await pool.close({ signal: AbortSignal.abort() })
    const outcomes = await Promise.all(calls)
    expect(outcomes.every((o) => o !== 'ok')).toBe(true)
    expect(replicas.map((r) => r.sessions.size)).toEqual(sessionsBefore)
    expect(replicas.reduce((s, r) => s + r.calls('work'), 0)).toBe(4)
  })

  it('close() lets calls in flight finish, refuses new ones, then closes every session', async () => {
    const pool = setup()
    const calls = Array.from({ length: 6 }, async (_, i) => await pool.callTool({ name: 'work', arguments: { steps: 2, stepMs: 40 + i } }))
    await expect.poll(() => replicas.reduce((s, r) => s + r.calls('work'), 0)).toBe(6)
    const closing = pool.close()
    await expect(pool.callTool({ name: 'echo', arguments: { text: 'x' } })).rejects.toThrow(PoolClosedError)
    const results = await Promise.all(calls)
    expect(results.map(text)).toEqual(Array(6).fill('worked 2'))
    await closing
    expect(pool.stats().inFlight).toBe(0)
    expect(pool.stats().endpoints.every((e) => e.sessions === 0)).toBe(true)
    await pool.close()
  })
})
