// `p2p-mcp workflow submit|status|list|cancel`: the workflow tools of a running peer, from the command line.
import { readFile } from 'node:fs/promises'
import type { Client } from '@modelcontextprotocol/sdk/client/index.js'
import { parse as parseYaml } from 'yaml'
import { errorMessage } from '../errors.js'

export const WORKFLOW_USAGE = `  workflow submit <workflow.json|yaml> [--wait] [--request-id <id>]
  workflow status <workflow-id> [--tasks]
  workflow list   [--status running|completed|failed|cancelled|all]
  workflow cancel <workflow-id>`

/** What the CLI does with a workflow command; `fail` exits (2: bad usage, 1: failed). */
export async function workflowCommand (rest: string[], flags: { wait?: boolean, tasks?: boolean, status?: string, requestId?: string }, connect: () => Promise<Client>, fail: (code: number, message: string) => never): Promise<void> {
  const [sub, arg] = rest
  let tool: string
  let args: Record<string, unknown>
  switch (sub) {
    case 'submit': {
      if (arg === undefined) fail(2, `workflow submit needs a file\n${WORKFLOW_USAGE}`)
      let text: string
      try { text = await readFile(arg, 'utf8') } catch (err) { fail(2, `cannot read ${arg}: ${errorMessage(err)}`) }
      let workflow: unknown
      try { workflow = /\.ya?ml$/i.test(arg) ? parseYaml(text) : JSON.parse(text) } catch (err) { fail(2, `${arg} is not ${/\.ya?ml$/i.test(arg) ? 'YAML' : 'JSON'}: ${errorMessage(err)}`) }
      tool = 'mesh__submit_workflow'
      args = { workflow, ...(flags.wait === true ? { wait: true } : {}), ...(flags.requestId === undefined ? {} : { requestId: flags.requestId }) }
      break
    }
    case 'status':
      if (arg === undefined) fail(2, `workflow status needs a workflow id\n${WORKFLOW_USAGE}`)
      tool = 'mesh__workflow_status'
      args = { workflowId: arg, ...(flags.tasks === true ? { tasks: true } : {}) }
      break
    case 'list':
      tool = 'mesh__list_workflows'
      args = flags.status === undefined ? {} : { status: flags.status }
      break
    case 'cancel':
      if (arg === undefined) fail(2, `workflow cancel needs a workflow id\n${WORKFLOW_USAGE}`)
      tool = 'mesh__cancel_workflow'
      args = { workflowId: arg }
      break
    default: fail(2, `unknown workflow command ${JSON.stringify(sub ?? '')}\n${WORKFLOW_USAGE}`)
  }
  const c = await connect()
  try {
    const r = await c.callTool({ name: tool, arguments: args }, undefined, { timeout: 11 * 60_000 })
    process.stdout.write(`${JSON.stringify(r.isError === true ? r.content : r.structuredContent, null, 2)}\n`)
    await c.close()
    if (r.isError === true) process.exit(1)
  } catch (err) {
    await c.close()
    fail(1, errorMessage(err))
  }
}
