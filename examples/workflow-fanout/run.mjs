#!/usr/bin/env node
/* eslint-disable no-console -- an example program reports on stdout */
/* global queueMicrotask, setInterval, clearInterval */
// A fan-out/fan-in workflow over two MCP servers, scheduled by @p2p-mcp/scheduler:
//   sq1..sq4 = calc__multiply(i, i)   (fan-out, run in parallel)
//   s12, s34 = calc__add of pairs, total = calc__add(s12, s34)   (fan-in through $ref)
//   record   = notes__add_note(text = total)   (not idempotent: never re-run by itself)
//   check    = notes__list_notes
// Two executors stand for two peers: one hosts the calc server, one the notes server, each a
// real child process spoken to with the MCP SDK's Client. The "log" here is one SchedulerState
// applied in this process; in a mesh it is the control plane's Raft log (mcp-node wires it).
//
//   node examples/workflow-fanout/run.mjs [workflow.json]     (after `npm run build`)
import { readFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { Client } from '@modelcontextprotocol/sdk/client/index.js'
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js'
import { Executor, SchedulerState, parseWorkflow } from '@p2p-mcp/scheduler'

const here = dirname(fileURLToPath(import.meta.url))
const workflow = JSON.parse(readFileSync(process.argv[2] ?? join(here, 'workflow.json'), 'utf8'))
parseWorkflow(workflow) // InvalidWorkflowError names the field

const state = new SchedulerState({ leaseMs: 5000 })
let index = 0
const executors = []
const apply = (cmd) => {
  const result = state.apply(cmd, { index: ++index, timeMs: Date.now() })
  queueMicrotask(() => { for (const ex of executors) ex.reconcile() }) // as a peer does after each applied entry
  return result
}
const ticker = setInterval(() => { state.tick({ index: ++index, timeMs: Date.now() }) }, 200)

async function startServer (server) {
  const client = new Client({ name: `peer-${server}`, version: '1.0.0' })
  await client.connect(new StdioClientTransport({ command: process.execPath, args: [join(here, '..', `${server}-server`, 'server.mjs')], stderr: 'ignore' }))
  return client
}

const peers = { calc: await startServer('calc'), notes: await startServer('notes') }
for (const [server, client] of Object.entries(peers)) {
  const ex = new Executor({
    id: `peer-${server}`,
    capabilities: [server],
    maxConcurrentTasks: 4,
    view: state,
    propose: apply,
    callTool: (task, { signal, meta }) => client.callTool({ name: task.tool, arguments: task.arguments, _meta: meta }, undefined, { signal }),
    tickMs: 50,
  })
  executors.push(ex)
  ex.start()
}

const done = new Promise((resolve) => {
  state.subscribe((e) => {
    if (e.type === 'task' && e.state === 'running') console.log(`${e.taskId.padEnd(6)} running   on ${e.owner} (epoch ${e.epoch})`)
    if (e.type === 'task' && e.state === 'completed') console.log(`${e.taskId.padEnd(6)} completed: ${state.getTask(e.workflowId, e.taskId).result?.content?.[0]?.text ?? ''}`)
    if (e.type === 'workflow') resolve(e.state)
  })
})
const submitted = apply({ type: 'submit', workflow, requestId: 'example-1', principal: 'local' })
if (!submitted.ok) throw new Error(`${submitted.code}: ${submitted.message}`)
console.log(`workflow ${submitted.workflowId}: ${workflow.tasks.length} tasks`)

const final = await done
const status = state.getWorkflowStatus(submitted.workflowId, { tasks: true })
const total = status.tasks.find((t) => t.id === 'total')?.result?.structuredContent?.sum
console.log(`workflow ${final}: ${status.completed}/${status.total} tasks completed; sum of squares = ${total}`)
console.log(`note: ${status.tasks.find((t) => t.id === 'check')?.result?.content?.[0]?.text}`)

clearInterval(ticker)
for (const ex of executors) ex.stop()
await Promise.all(Object.values(peers).map((c) => c.close()))
process.exitCode = final === 'completed' && total === 30 ? 0 : 1
