import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { Executor, SchedulerState, WorkflowScheduler } from '../src/index.js'
import type { Assignment, CallContext, SchedulerCommand } from '../src/index.js'

/** One log, applied at once; executors read it directly and reconcile after each entry, as a host does. */
function cluster () {
  const sm = new SchedulerState({ leaseMs: 1000 })
  let index = 0
  const clock = { now: 0 }
  const executors = new Set<Executor>()
  const applied = (): void => { queueMicrotask(() => { for (const ex of executors) ex.reconcile() }) }
  const apply = (cmd: SchedulerCommand): unknown => { const r = sm.apply(cmd, { index: ++index, timeMs: clock.now }); applied(); return r }
  return { sm, clock, apply, executors, tick: () => { sm.tick({ index: ++index, timeMs: clock.now }); applied() } }
}

interface Call { a: Assignment, ctx: CallContext, resolve: (v: unknown) => void, reject: (e: unknown) => void }

function executor (c: ReturnType<typeof cluster>, id: string, init: { maxConcurrentTasks?: number } = {}) {
  const calls: Call[] = []
  const ex: Executor = new Executor({
    id, view: c.sm, tickMs: 0, now: () => c.clock.now, heartbeatMs: 100, ...init,
    propose: cmd => { c.apply(cmd) },
    callTool: (a, ctx) => new Promise((resolve, reject) => { calls.push({ a, ctx, resolve, reject }) }),
  })
  c.executors.add(ex)
  return { ex, calls, stop: () => { ex.stop(); c.executors.delete(ex) } }
}

const settle = async (): Promise<void> => { for (let i = 0; i < 5; i++) await Promise.resolve() }

describe('Executor', () => {
  it('runs its tasks most urgent first, one at a time with maxConcurrentTasks 1', async () => {
    await fc.assert(fc.asyncProperty(fc.array(fc.integer({ min: 0, max: 1000 }), { minLength: 1, maxLength: 12 }), async prios => {
      const c = cluster()
      const { ex, calls } = executor(c, 'e', { maxConcurrentTasks: 1 })
      ex.start()
      c.apply({ type: 'submit', workflow: { id: 'w', tasks: prios.map((p, i) => ({ id: `t${i}`, tool: 's__t', priority: p })) } })
      const order: number[] = []
      ex.reconcile()
      for (let i = 0; i < prios.length; i++) {
        ex.reconcile()
        expect(calls.length).toBe(1)
        const call = calls.shift()!
        order.push(call.a.priority)
        call.resolve({ content: [] })
        await settle()
        ex.reconcile()
      }
      expect(order).toEqual([...prios].sort((a, b) => a - b))
      expect(c.sm.getWorkflowStatus('w')!.state).toBe('completed')
      ex.stop()
    }), { numRuns: 30 })
  })

  it('never has more calls in flight than maxConcurrentTasks, and sends the epoch and idempotency key', async () => {
    const c = cluster()
    const { ex, calls } = executor(c, 'e', { maxConcurrentTasks: 2 })
    ex.start()
    c.apply({ type: 'submit', workflow: { id: 'w', tasks: Array.from({ length: 5 }, (_, i) => ({ id: `t${i}`, tool: 's__t' })) } })
    await settle()
    expect(calls.length).toBe(2)
    expect(ex.activeCalls).toBe(2)
    expect(calls[0]!.ctx.meta).toEqual({ 'p2p-mcp/idempotency-key': 'w/t0', 'p2p-mcp/epoch': 1, 'p2p-mcp/task': 'w/t0' })
    calls.shift()!.resolve({ content: [] })
    await settle()
    expect(calls.length).toBe(2)
    expect(ex.activeCalls).toBe(2)
    ex.stop()
  })

  it('cancelling the workflow aborts the call in flight; its late answer is ignored', async () => {
    const c = cluster()
    const { ex, calls } = executor(c, 'e')
    ex.start()
    c.apply({ type: 'submit', workflow: { id: 'w', tasks: [{ id: 'a', tool: 's__t' }] } })
    await settle()
    const call = calls[0]!
    c.apply({ type: 'cancel', workflowId: 'w' })
    await settle()
    expect(call.ctx.signal.aborted).toBe(true)
    expect((call.ctx.signal.reason as Error).name).toBe('TaskAbortedError')
    call.resolve({ content: [] })
    await settle()
    expect(c.sm.getWorkflowStatus('w')).toMatchObject({ state: 'cancelled', completed: 0 })
    expect(ex.heldTasks()).toEqual([])
  })

  it('a task stolen from its queue leaves it; a restarted executor gives back what it was running', async () => {
    const c = cluster()
    const a = executor(c, 'a', { maxConcurrentTasks: 1 })
    a.ex.start()
    c.apply({ type: 'submit', workflow: { id: 'w', tasks: Array.from({ length: 4 }, (_, i) => ({ id: `t${i}`, tool: 's__t' })) } })
    await settle()
    expect(a.ex.heldTasks().length).toBe(4)
    const b = executor(c, 'b')
    b.ex.start()
    c.apply({ type: 'steal', executor: 'b' })
    await settle()
    expect(a.ex.heldTasks().length + b.ex.heldTasks().length).toBe(4)
    expect(b.ex.heldTasks().length).toBeGreaterThan(0)
    // a restarts while t0 runs: the log still says a runs t0 under epoch 1
    const running = a.calls[0]!.a
    a.stop()
    const a2 = executor(c, 'a')
    a2.ex.start()
    await settle()
    const t = c.sm.getTask('w', running.taskId)!
    expect(t.state).toBe('unknown') // not re-run-safe: the submitter decides
    expect(a2.calls.length).toBeGreaterThan(0)
  })

  it('a call past its timeout is failed (and retried by the log)', async () => {
    const c = cluster()
    const { ex, calls } = executor(c, 'e')
    ex.start()
    c.apply({ type: 'submit', workflow: { id: 'w', tasks: [{ id: 'a', tool: 's__t', timeoutMs: 50, retry: { backoffMs: 0 } }] } })
    await settle()
    c.clock.now = 60
    ex.tick()
    expect(calls[0]!.ctx.signal.aborted).toBe(true)
    await settle()
    expect(c.sm.getTask('w', 'a')).toMatchObject({ state: 'running', attempts: 2, epoch: 2, error: { code: 'timeout' } })
    expect(calls.length).toBe(2)
    expect(calls[1]!.ctx.epoch).toBe(2)
  })
})

describe('WorkflowScheduler (the seed\'s single-process API)', () => {
  it('submitWorkflow, getNextTask in priority order, getWorkflowStatus', async () => {
    let now = 0
    const s = new WorkflowScheduler({ nodeId: 'worker-01', now: () => now })
    const id = await s.submitWorkflow({
      name: 'batch-inference',
      tag: 'p2p-eligible',
      priority: 2,
      tasks: [
        { id: 'a', tool: 'bert__infer', arguments: { input: 'text1' }, priority: 5 },
        { id: 'b', tool: 'bert__infer', arguments: { input: 'text2' }, priority: 1 },
        { id: 'c', tool: 'bert__merge', arguments: { parts: [{ $ref: 'a#/out' }, { $ref: 'b#/out' }] } },
      ]
    })
    const first = s.getNextTask()!
    expect(first.taskId).toBe('b')
    first.complete({ out: 'B' })
    now = 10
    const second = s.getNextTask()!
    expect(second.taskId).toBe('a')
    expect(s.getNextTask()).toBeUndefined()
    second.complete({ out: 'A' })
    const third = s.getNextTask()!
    expect(third.arguments).toEqual({ parts: ['A', 'B'] })
    third.complete({ ok: true })
    expect(s.getWorkflowStatus(id)).toMatchObject({ completed: 3, total: 3, state: 'completed' })
    expect(s.listWorkflows({ state: 'completed' }).length).toBe(1)
    expect(() => s.scheduleWorkflow({ tasks: [{ id: 'x', tool: 'nope' }] })).toThrow(/tasks\[0\]\.tool/)
  })
})
