import { describe, expect, it } from 'vitest'
import { InvalidWorkflowError, parseWorkflow, SchedulerState } from '../src/index.js'
import type { ApplyResult, SchedulerCommand, WorkflowSpec } from '../src/index.js'

function machine (init: ConstructorParameters<typeof SchedulerState>[0] = {}): { sm: SchedulerState, run: (cmd: SchedulerCommand | Record<string, unknown>, timeMs?: number) => ApplyResult, tick: (timeMs: number) => void } {
  const sm = new SchedulerState({ leaseMs: 1000, ...init })
  let index = 0
  let t = 0
  return {
    sm,
    run: (cmd, timeMs) => { t = timeMs ?? t; return sm.apply(cmd, { index: ++index, timeMs: t }) },
    tick: (timeMs) => { t = timeMs; sm.tick({ index: ++index, timeMs }) },
  }
}

const wf = (n: number, extra: Partial<WorkflowSpec> = {}): WorkflowSpec => ({ id: 'w', tasks: Array.from({ length: n }, (_, i) => ({ id: `t${i}`, tool: 'srv__echo', arguments: { i } })), ...extra })

describe('workflow validation', () => {
  const bad: Array<[string, unknown, string]> = [
    ['no tasks', { tasks: [] }, 'tasks'],
    ['priority out of range', { tasks: [{ id: 'a', tool: 's__t', priority: -1 }] }, 'tasks[0].priority'],
    ['no tool', { tasks: [{ id: 'a' }] }, 'tasks[0].tool'],
    ['tool without __', { tasks: [{ id: 'a', tool: 'plain' }] }, 'tasks[0].tool'],
    ['tool both ways', { tasks: [{ id: 'a', tool: 's__t', server: 's', name: 't' }] }, 'tasks[0].tool'],
    ['duplicate id', { tasks: [{ id: 'a', tool: 's__t' }, { id: 'a', tool: 's__t' }] }, 'tasks[1].id'],
    ['unknown dependency', { tasks: [{ id: 'a', tool: 's__t', dependsOn: ['zz'] }] }, 'tasks[0].dependsOn'],
    ['cycle', { tasks: [{ id: 'a', tool: 's__t', dependsOn: ['b'] }, { id: 'b', tool: 's__t', dependsOn: ['a'] }] }, 'tasks[0].dependsOn'],
    ['unknown tag', { tasks: [{ id: 'a', tool: 's__t', tag: 'gpu-only' }] }, 'tasks[0].tag'],
    ['bad $ref', { tasks: [{ id: 'a', tool: 's__t', arguments: { x: { $ref: 'nope#/a' } } }] }, 'tasks[0].arguments.x'],
    ['unknown field', { tasks: [{ id: 'a', tool: 's__t', colour: 'red' }] }, 'tasks[0]'],
  ]
  for (const [what, input, field] of bad) {
    it(`rejects ${what}, naming ${field}`, () => {
      expect(() => parseWorkflow(input)).toThrow(InvalidWorkflowError)
      try { parseWorkflow(input) } catch (err) { expect((err as InvalidWorkflowError).field).toBe(field) }
    })
  }

  it('the state machine refuses a bad workflow with a typed result, not a throw', () => {
    const { run } = machine()
    const r = run({ type: 'submit', workflow: { tasks: [{ id: 'a', tool: 's__t', timeoutMs: 0 }] } })
    expect(r).toMatchObject({ ok: false, code: 'invalid-workflow', field: 'workflow.tasks[0].timeoutMs' })
    expect(run({ type: 'nonsense' })).toMatchObject({ ok: false, code: 'invalid-command' })
    expect(run({ type: 'start', workflowId: 'w', taskId: 't', executor: 'e', epoch: -1 })).toMatchObject({ ok: false, code: 'invalid-command', field: 'epoch' })
  })
})

describe('SchedulerState', () => {
  it('submission is idempotent by workflow id and by request id; other content under the same id conflicts', () => {
    const { sm, run } = machine()
    expect(run({ type: 'submit', workflow: wf(3), requestId: 'r1' })).toMatchObject({ ok: true, workflowId: 'w', created: true })
    expect(run({ type: 'submit', workflow: wf(3) })).toMatchObject({ ok: true, workflowId: 'w', created: false })
    expect(run({ type: 'submit', workflow: wf(3, { id: 'other' }), requestId: 'r1' })).toMatchObject({ ok: true, workflowId: 'w', created: false })
    expect(run({ type: 'submit', workflow: wf(4) })).toMatchObject({ ok: false, code: 'workflow-id-conflict', field: 'workflow.id' })
    expect(sm.size.tasks).toBe(3)
  })

  it('picks owners by requirements, then hamming distance, then load, identically on two replicas', () => {
    const a = machine(), b = machine()
    const cmds: SchedulerCommand[] = [
      { type: 'register', executor: 'gpu', capabilities: ['cuda', 'fp16'] },
      { type: 'register', executor: 'cpu1', capabilities: [] },
      { type: 'register', executor: 'cpu2', capabilities: ['large-memory'] },
      {
        type: 'submit',
        workflow: {
          id: 'w',
          tasks: [
            { id: 'needs-cuda', tool: 's__t', requires: ['cuda'] },
            { id: 'plain', tool: 's__t' },
            { id: 'wants-mem', tool: 's__t', prefers: ['large-memory'] },
            ...Array.from({ length: 6 }, (_, i) => ({ id: `x${i}`, tool: 's__t' })),
          ]
        }
      },
    ]
    for (const c of cmds) { a.run(c); b.run(c) }
    const owner = (m: typeof a, id: string): string | undefined => m.sm.getTask('w', id)?.owner
    expect(owner(a, 'needs-cuda')).toBe('gpu')
    expect(owner(a, 'plain')).toBe('cpu1') // distance 0 beats cpu2 (1) and gpu (2)
    expect(owner(a, 'wants-mem')).toBe('cpu2')
    const loads = a.sm.listExecutors().map(e => e.leased)
    expect(Math.max(...loads) - Math.min(...loads)).toBeLessThanOrEqual(6)
    expect(a.sm.snapshot()).toEqual(b.sm.snapshot())
  })

  it('fences stale epochs, completes exactly once, and moves unstarted tasks of a dead owner', () => {
    const { sm, run, tick } = machine()
    run({ type: 'register', executor: 'e1', capabilities: [] }, 0)
    run({ type: 'submit', workflow: wf(1) })
    const t = sm.getTask('w', 't0')!
    expect(t).toMatchObject({ state: 'leased', owner: 'e1', epoch: 1 })
    run({ type: 'register', executor: 'e2', capabilities: [] }, 600)
    tick(1500) // e1 silent for 1500 > 1000 ms: its unstarted task moves to e2
    expect(sm.getTask('w', 't0')).toMatchObject({ state: 'leased', owner: 'e2', epoch: 2 })
    expect(run({ type: 'start', workflowId: 'w', taskId: 't0', executor: 'e1', epoch: 1 })).toMatchObject({ ok: false, code: 'stale-epoch' })
    expect(run({ type: 'complete', workflowId: 'w', taskId: 't0', executor: 'e2', epoch: 2, result: 1 })).toMatchObject({ ok: false, code: 'wrong-state' })
    expect(run({ type: 'start', workflowId: 'w', taskId: 't0', executor: 'e2', epoch: 2 })).toMatchObject({ ok: true })
    expect(run({ type: 'complete', workflowId: 'w', taskId: 't0', executor: 'e2', epoch: 2, result: 1 })).toMatchObject({ ok: true })
    expect(run({ type: 'complete', workflowId: 'w', taskId: 't0', executor: 'e2', epoch: 2, result: 2 })).toMatchObject({ ok: false, code: 'already-finished' })
    expect(sm.getWorkflowStatus('w')).toMatchObject({ state: 'completed', completed: 1, total: 1 })
    expect(sm.stats.completions).toBe(1)
  })

  it('an owner dying mid-call re-runs only re-run-safe tasks; others become unknown until resolved', () => {
    const { sm, run, tick } = machine()
    run({ type: 'register', executor: 'e1', capabilities: [] }, 0)
    run({
      type: 'submit',
      workflow: {
        id: 'w',
        tasks: [
          { id: 'unsafe', tool: 's__t' },
          { id: 'idem', tool: 's__t', annotations: { idempotentHint: true } },
          { id: 'ro', tool: 's__t', annotations: { readOnlyHint: true } },
          { id: 'key', tool: 's__t', honoursIdempotencyKey: true },
          { id: 'after', tool: 's__t', dependsOn: ['unsafe'] },
        ]
      }
    })
    for (const id of ['unsafe', 'idem', 'ro', 'key']) run({ type: 'start', workflowId: 'w', taskId: id, executor: 'e1', epoch: 1 })
    run({ type: 'register', executor: 'e2', capabilities: [] }, 900)
    tick(1200)
    expect(sm.getTask('w', 'unsafe')!.state).toBe('unknown')
    for (const id of ['idem', 'ro', 'key']) expect(sm.getTask('w', id)).toMatchObject({ state: 'leased', owner: 'e2', epoch: 2 })
    expect(sm.getTask('w', 'after')!.state).toBe('pending')
    expect(sm.getWorkflowStatus('w')!.needsResolution).toBe(1)
    expect(run({ type: 'resolve', workflowId: 'w', taskId: 'unsafe', action: 'complete', result: { done: true } })).toMatchObject({ ok: true })
    expect(sm.getTask('w', 'after')!.state).toBe('leased')
  })

  it('retries failures with backoff in log time, then fails and skips dependents', () => {
    const { sm, run, tick } = machine({ leaseMs: 1_000_000 })
    run({ type: 'register', executor: 'e', capabilities: [] }, 0)
    run({ type: 'submit', workflow: { id: 'w', tasks: [{ id: 'a', tool: 's__t', retry: { maxAttempts: 2, backoffMs: 100 } }, { id: 'b', tool: 's__t', dependsOn: ['a'] }] } })
    run({ type: 'start', workflowId: 'w', taskId: 'a', executor: 'e', epoch: 1 })
    expect(run({ type: 'fail', workflowId: 'w', taskId: 'a', executor: 'e', epoch: 1, error: { message: 'boom' } })).toMatchObject({ ok: true, retry: true })
    tick(50)
    expect(sm.getTask('w', 'a')!.state).toBe('queued')
    tick(100)
    expect(sm.getTask('w', 'a')).toMatchObject({ state: 'leased', epoch: 2 })
    run({ type: 'start', workflowId: 'w', taskId: 'a', executor: 'e', epoch: 2 })
    expect(run({ type: 'fail', workflowId: 'w', taskId: 'a', executor: 'e', epoch: 2, error: { message: 'boom' } })).toMatchObject({ ok: true, retry: false })
    expect(sm.getWorkflowStatus('w')).toMatchObject({ state: 'failed', counts: { failed: 1, skipped: 1 } })
  })

  it('feeds outputs into dependents through $ref', () => {
    const { sm, run } = machine()
    run({ type: 'register', executor: 'e', capabilities: [] })
    run({ type: 'submit', workflow: { id: 'w', tasks: [{ id: 'fetch', tool: 's__get' }, { id: 'sum', tool: 's__sum', arguments: { xs: { $ref: 'fetch#/structuredContent/items' }, all: { $ref: 'fetch' } } }] } })
    run({ type: 'start', workflowId: 'w', taskId: 'fetch', executor: 'e', epoch: 1 })
    run({ type: 'complete', workflowId: 'w', taskId: 'fetch', executor: 'e', epoch: 1, result: { structuredContent: { items: [1, 2] } } })
    const a = sm.assignmentsOf('e').find(x => x.taskId === 'sum')!
    expect(a.arguments).toEqual({ xs: [1, 2], all: { structuredContent: { items: [1, 2] } } })
  })

  it('lets an idle executor steal queued, unstarted tasks from a busy one', () => {
    const { sm, run } = machine({ leaseMs: 1_000_000 })
    run({ type: 'register', executor: 'busy', capabilities: [], maxConcurrent: 1, maxAssigned: 8 })
    run({ type: 'submit', workflow: wf(8) })
    run({ type: 'start', workflowId: 'w', taskId: 't0', executor: 'busy', epoch: 1 })
    run({ type: 'register', executor: 'idle', capabilities: [] })
    const r = run({ type: 'steal', executor: 'idle' })
    expect(r).toMatchObject({ ok: true })
    expect((r as unknown as { stolen: string[] }).stolen.length).toBe(4)
    expect(sm.getTask('w', 't0')!.owner).toBe('busy') // started: never stolen
    expect(run({ type: 'steal', executor: 'idle' })).toMatchObject({ ok: false, code: 'nothing-to-steal' })
  })

  it('cancels a workflow and its tasks; the owner loses them', () => {
    const { sm, run } = machine()
    run({ type: 'register', executor: 'e', capabilities: [] })
    run({ type: 'submit', workflow: wf(3) })
    run({ type: 'start', workflowId: 'w', taskId: 't0', executor: 'e', epoch: 1 })
    expect(run({ type: 'cancel', workflowId: 'w' })).toMatchObject({ ok: true, cancelled: 3 })
    expect(sm.assignmentsOf('e')).toEqual([])
    expect(run({ type: 'complete', workflowId: 'w', taskId: 't0', executor: 'e', epoch: 1, result: 1 })).toMatchObject({ ok: false, code: 'already-finished' })
  })

  it('enforces bounds and compacts finished workflows after the retention', () => {
    const { sm, run, tick } = machine({ maxTasksPerWorkflow: 5, maxArgumentBytes: 64, maxResultBytes: 16, retentionMs: 5000, maxWorkflows: 2 })
    expect(run({ type: 'submit', workflow: wf(6) })).toMatchObject({ ok: false, code: 'too-many-tasks' })
    expect(run({ type: 'submit', workflow: { tasks: [{ id: 'a', tool: 's__t', arguments: { x: 'y'.repeat(100) } }] } })).toMatchObject({ ok: false, code: 'too-large', field: 'workflow.tasks[0].arguments' })
    run({ type: 'register', executor: 'e', capabilities: [] }, 0)
    run({ type: 'submit', workflow: wf(1) })
    run({ type: 'submit', workflow: wf(1, { id: 'w2' }) })
    expect(run({ type: 'submit', workflow: wf(1, { id: 'w3' }) })).toMatchObject({ ok: false, code: 'too-many-workflows' })
    run({ type: 'start', workflowId: 'w', taskId: 't0', executor: 'e', epoch: 1 })
    expect(run({ type: 'complete', workflowId: 'w', taskId: 't0', executor: 'e', epoch: 1, result: 'x'.repeat(40) })).toMatchObject({ ok: false, code: 'result-too-large' })
    run({ type: 'complete', workflowId: 'w', taskId: 't0', executor: 'e', epoch: 1, result: 'ok' }, 100)
    run({ type: 'heartbeat', executor: 'e' }, 4000)
    tick(5099)
    expect(sm.getWorkflowStatus('w')).toBeDefined()
    run({ type: 'heartbeat', executor: 'e' }, 5100)
    tick(5100)
    expect(sm.getWorkflowStatus('w')).toBeUndefined()
    expect(run({ type: 'submit', workflow: wf(1, { id: 'w3' }) })).toMatchObject({ ok: true })
  })

  it('honours the workflow tags p2p-only and github-api against the origin executor', () => {
    const { sm, run } = machine()
    run({ type: 'register', executor: 'origin', capabilities: [] })
    run({ type: 'register', executor: 'other', capabilities: ['x', 'y'] })
    run({ type: 'submit', origin: 'origin', workflow: { id: 'w', tasks: [{ id: 'only', tool: 's__t', tag: 'p2p-only' }, { id: 'gh', tool: 's__t', tag: 'github-api', prefers: ['x', 'y'] }] } })
    expect(sm.getTask('w', 'only')!.owner).toBe('other')
    expect(sm.getTask('w', 'gh')!.owner).toBe('origin')
  })

  it('restores from a snapshot to an identical state that keeps behaving identically', () => {
    const a = machine(), b = machine()
    a.run({ type: 'register', executor: 'e1', capabilities: ['x'] }, 0)
    a.run({ type: 'register', executor: 'e2', capabilities: [] }, 0)
    a.run({ type: 'submit', workflow: { id: 'w', tasks: [{ id: 'a', tool: 's__t' }, { id: 'b', tool: 's__t', dependsOn: ['a'] }, { id: 'c', tool: 's__t', retry: { backoffMs: 500 } }] } })
    a.run({ type: 'start', workflowId: 'w', taskId: 'c', executor: a.sm.getTask('w', 'c')!.owner!, epoch: 1 })
    a.run({ type: 'fail', workflowId: 'w', taskId: 'c', executor: a.sm.getTask('w', 'c')!.owner!, epoch: 1, error: { message: 'x' } })
    b.sm.restore(a.sm.snapshot())
    expect(b.sm.snapshot()).toEqual(a.sm.snapshot())
    for (const m of [a, b]) {
      const owner = m.sm.getTask('w', 'a')!.owner!
      m.run({ type: 'start', workflowId: 'w', taskId: 'a', executor: owner, epoch: 1 }, 100)
      m.run({ type: 'complete', workflowId: 'w', taskId: 'a', executor: owner, epoch: 1, result: 1 }, 200)
      m.tick(800)
    }
    expect(b.sm.snapshot()).toEqual(a.sm.snapshot())
    expect(() => b.sm.restore(new TextEncoder().encode('{"v":99}'))).toThrow(/version 99/)
  })
})
