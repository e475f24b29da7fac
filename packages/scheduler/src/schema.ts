import { z } from 'zod'
import { InvalidWorkflowError } from './errors.js'
import type { JsonValue, TaskSpec, WorkflowSpec } from './types.js'
import { WorkflowTag } from './types.js'
import { MAX_PRIORITY, MAX_RETRY_BACKOFF_MS } from './constants.js'

const ID = /^[A-Za-z0-9_.:-]{1,128}$/
const TAG = /^[A-Za-z0-9_.:/-]{1,64}$/
const id = z.string().regex(ID, 'must be 1-128 characters of letters, digits, _ . : -')
const tag = z.string().regex(TAG, 'must be 1-64 characters of letters, digits, _ . : / -')

export const jsonValueSchema: z.ZodType<JsonValue> = z.lazy(() => z.union([
  z.string(), z.number().refine(Number.isFinite, 'must be finite'), z.boolean(), z.null(), z.array(jsonValueSchema), z.record(z.string(), jsonValueSchema),
]))

export const workflowTagSchema = z.enum(Object.values(WorkflowTag) as [WorkflowTag, ...WorkflowTag[]])

const retrySchema = z.object({
  maxAttempts: z.number().int().min(1).max(100).optional(),
  backoffMs: z.number().int().min(0).max(MAX_RETRY_BACKOFF_MS).optional(),
  backoffMultiplier: z.number().min(1).max(10).optional(),
}).strict()

export const taskSpecSchema = z.object({
  id,
  tool: z.string().min(4).max(256).optional(),
  server: z.string().min(1).max(128).optional(),
  name: z.string().min(1).max(128).optional(),
  arguments: z.record(z.string(), jsonValueSchema).optional(),
  priority: z.number().min(0).max(MAX_PRIORITY).optional(),
  requires: z.array(tag).max(64).optional(),
  prefers: z.array(tag).max(64).optional(),
  tag: workflowTagSchema.optional(),
  dependsOn: z.array(id).max(1024).optional(),
  timeoutMs: z.number().int().min(1).max(24 * 3600_000).optional(),
  retry: retrySchema.optional(),
  idempotencyKey: z.string().min(1).max(256).optional(),
  annotations: z.object({ readOnlyHint: z.boolean().optional(), idempotentHint: z.boolean().optional() }).loose().optional(),
  honoursIdempotencyKey: z.boolean().optional(),
}).strict()

export const workflowSpecSchema = z.object({
  id: id.optional(),
  name: z.string().max(256).optional(),
  tag: workflowTagSchema.optional(),
  priority: z.number().min(0).max(MAX_PRIORITY).optional(),
  tasks: z.array(taskSpecSchema).min(1),
}).strict()

const executorId = z.string().min(1).max(256)
const epoch = z.number().int().min(0)
const taskRef = { workflowId: id, taskId: id }

export const commandSchema = z.discriminatedUnion('type', [
  z.object({ type: z.literal('register'), executor: executorId, capabilities: z.array(tag).max(256), maxConcurrent: z.number().int().min(1).max(10_000).optional(), maxAssigned: z.number().int().min(1).max(100_000).optional() }),
  z.object({ type: z.literal('heartbeat'), executor: executorId }),
  z.object({ type: z.literal('deregister'), executor: executorId }),
  z.object({ type: z.literal('submit'), workflow: z.unknown(), requestId: z.string().min(1).max(256).optional(), principal: z.string().min(1).max(256).optional(), origin: executorId.optional() }),
  z.object({ type: z.literal('start'), ...taskRef, executor: executorId, epoch }),
  z.object({ type: z.literal('complete'), ...taskRef, executor: executorId, epoch, result: jsonValueSchema }),
  z.object({ type: z.literal('fail'), ...taskRef, executor: executorId, epoch, error: z.object({ message: z.string().max(4096), code: z.string().max(128).optional() }), retryable: z.boolean().optional() }),
  z.object({ type: z.literal('release'), ...taskRef, executor: executorId, epoch, reason: z.string().max(512).optional() }),
  z.object({ type: z.literal('steal'), executor: executorId }),
  z.object({ type: z.literal('cancel'), workflowId: id, reason: z.string().max(512).optional() }),
  z.object({ type: z.literal('resolve'), ...taskRef, action: z.enum(['retry', 'fail', 'complete']), result: jsonValueSchema.optional() }),
  z.object({ type: z.literal('rebalance'), strategy: z.enum(['load', 'latency']), latencyMs: z.record(z.string(), z.number().min(0)).optional() }),
  z.object({ type: z.literal('tick') }),
])

/** A command of the scheduler's state machine, as it travels in the log. */
export type SchedulerCommand = z.infer<typeof commandSchema>

/** `tasks[3].priority` from a zod path. */
export function fieldPath (path: ReadonlyArray<PropertyKey>): string {
  let out = ''
  for (const p of path) out += typeof p === 'number' ? `[${p}]` : (out === '' ? String(p) : `.${String(p)}`)
  return out
}

/** Splits a mesh tool name `<server>__<tool>` at its first `__`. */
export function splitToolName (tool: string): { server: string, tool: string } | undefined {
  const i = tool.indexOf('__')
  if (i <= 0 || i + 2 >= tool.length) return undefined
  return { server: tool.slice(0, i), tool: tool.slice(i + 2) }
}

/** A `{ "$ref": "<taskId>#<pointer>" }` reference found in a task's arguments. */
export interface OutputReference { taskId: string, pointer: string }

/** If `v` is a reference object, its parts; otherwise undefined. */
export function asReference (v: JsonValue): OutputReference | undefined {
  if (v === null || typeof v !== 'object' || Array.isArray(v)) return undefined
  const keys = Object.keys(v)
  if (keys.length !== 1 || keys[0] !== '$ref' || typeof v.$ref !== 'string') return undefined
  const ref = v.$ref
  const hash = ref.indexOf('#')
  return hash < 0 ? { taskId: ref, pointer: '' } : { taskId: ref.slice(0, hash), pointer: ref.slice(hash + 1) }
}

/** Every reference in a value, with its path. */
export function collectReferences (v: JsonValue, path: string, out: Array<OutputReference & { path: string }>): void {
  const ref = asReference(v)
  if (ref !== undefined) { out.push({ ...ref, path }); return }
  if (Array.isArray(v)) v.forEach((x, i) => { collectReferences(x, `${path}[${i}]`, out) })
  else if (v !== null && typeof v === 'object') for (const [k, x] of Object.entries(v)) collectReferences(x, `${path}.${k}`, out)
}

/** RFC 6901 JSON pointer lookup; `undefined` when the path does not exist. */
export function jsonPointer (v: JsonValue | undefined, pointer: string): JsonValue | undefined {
  if (pointer === '') return v
  if (!pointer.startsWith('/')) return undefined
  let cur: JsonValue | undefined = v
  for (const raw of pointer.slice(1).split('/')) {
    const part = raw.replaceAll('~1', '/').replaceAll('~0', '~')
    if (cur === null || cur === undefined || typeof cur !== 'object') return undefined
    if (Array.isArray(cur)) {
      if (!/^(0|[1-9][0-9]*)$/.test(part)) return undefined
      cur = cur[Number(part)]
    } else {
      cur = Object.hasOwn(cur, part) ? cur[part] : undefined
    }
  }
  return cur
}

/** Replaces every reference in `v` by the referenced output; throws a message naming the first one that does not resolve. */
export function resolveReferences (v: JsonValue, outputOf: (taskId: string) => JsonValue | undefined): JsonValue {
  const ref = asReference(v)
  if (ref !== undefined) {
    const found = jsonPointer(outputOf(ref.taskId), ref.pointer)
    if (found === undefined) throw new Error(`reference ${ref.taskId}#${ref.pointer} does not resolve in that task's result`)
    return found
  }
  if (Array.isArray(v)) return v.map(x => resolveReferences(x, outputOf))
  if (v !== null && typeof v === 'object') {
    const out: Record<string, JsonValue> = {}
    for (const [k, x] of Object.entries(v)) out[k] = resolveReferences(x, outputOf)
    return out
  }
  return v
}

/** A validated workflow: tool names split, dependencies (declared and by reference) checked, acyclic. */
export interface ParsedWorkflow {
  spec: WorkflowSpec
  tasks: Array<TaskSpec & { server: string, toolName: string, deps: string[] }>
  /** Task ids in a topological order. */
  order: string[]
}

/**
 * Validates a workflow. Throws InvalidWorkflowError naming the field: schema errors, a task
 * naming its tool both ways or neither, duplicate ids, unknown dependencies or references, cycles.
 */
export function parseWorkflow (input: unknown, maxTasks = Infinity): ParsedWorkflow {
  const r = workflowSpecSchema.safeParse(input)
  if (!r.success) {
    const issue = r.error.issues[0]!
    throw new InvalidWorkflowError(fieldPath(issue.path), issue.message, { cause: r.error })
  }
  const spec: WorkflowSpec = r.data
  if (spec.tasks.length > maxTasks) throw new InvalidWorkflowError('tasks', `${spec.tasks.length} tasks exceed maxTasksPerWorkflow ${maxTasks}; split the workflow`)
  const ids = new Map<string, number>()
  spec.tasks.forEach((t, i) => {
    if (ids.has(t.id)) throw new InvalidWorkflowError(`tasks[${i}].id`, `duplicate task id "${t.id}" (also tasks[${ids.get(t.id)}])`)
    ids.set(t.id, i)
  })
  const tasks = spec.tasks.map((t, i) => {
    let server: string, toolName: string
    if (t.tool !== undefined) {
      if (t.server !== undefined || t.name !== undefined) throw new InvalidWorkflowError(`tasks[${i}].tool`, 'give either tool ("<server>__<tool>") or server + name, not both')
      const s = splitToolName(t.tool)
      if (s === undefined) throw new InvalidWorkflowError(`tasks[${i}].tool`, `"${t.tool}" is not "<server>__<tool>"`)
      server = s.server; toolName = s.tool
    } else {
      if (t.server === undefined || t.name === undefined) throw new InvalidWorkflowError(`tasks[${i}].tool`, 'missing: give tool ("<server>__<tool>") or server + name')
      server = t.server; toolName = t.name
    }
    const deps = new Set(t.dependsOn ?? [])
    for (const d of t.dependsOn ?? []) {
      if (!ids.has(d)) throw new InvalidWorkflowError(`tasks[${i}].dependsOn`, `unknown task "${d}"`)
    }
    const refs: Array<OutputReference & { path: string }> = []
    collectReferences(t.arguments ?? {}, `tasks[${i}].arguments`, refs)
    for (const ref of refs) {
      if (!ids.has(ref.taskId)) throw new InvalidWorkflowError(ref.path, `$ref names unknown task "${ref.taskId}"`)
      if (ref.pointer !== '' && !ref.pointer.startsWith('/')) throw new InvalidWorkflowError(ref.path, `$ref pointer "${ref.pointer}" must be empty or start with "/"`)
      deps.add(ref.taskId)
    }
    if (deps.has(t.id)) throw new InvalidWorkflowError(`tasks[${i}].dependsOn`, `task "${t.id}" depends on itself`)
    return { ...t, server, toolName, deps: [...deps] }
  })
  // Kahn's algorithm: whatever is left over sits on a cycle.
  const indeg = new Map<string, number>()
  const out = new Map<string, string[]>()
  for (const t of tasks) { indeg.set(t.id, t.deps.length); for (const d of t.deps) { const l = out.get(d); if (l === undefined) out.set(d, [t.id]); else l.push(t.id) } }
  const order: string[] = []
  const ready = tasks.filter(t => t.deps.length === 0).map(t => t.id)
  while (ready.length > 0) {
    const x = ready.pop()!
    order.push(x)
    for (const y of out.get(x) ?? []) { const n = indeg.get(y)! - 1; indeg.set(y, n); if (n === 0) ready.push(y) }
  }
  if (order.length !== tasks.length) {
    const stuck = tasks.findIndex(t => indeg.get(t.id)! > 0)
    throw new InvalidWorkflowError(`tasks[${stuck}].dependsOn`, `task "${tasks[stuck]!.id}" is on a dependency cycle`)
  }
  return { spec, tasks, order }
}
