import { ErrorCode, McpError } from '@modelcontextprotocol/sdk/types.js'
import { POLICY_DENIED_CODE } from '../constants.js'
import type { NodeModule } from '../module.js'
import type { BuiltinReadContext } from '../mesh-tools.js'
import type { AuditLog, AuditQuery } from './audit-log.js'

/** The audit log's resource: the last entries (newest first) and, through its template, a query. */
export const AUDIT_URI = 'mesh://audit'
const TEMPLATE = 'mesh://audit{?principal,tool,outcome,method,since,until,limit}'
const TEXT_PARAMS = ['principal', 'tool', 'outcome', 'method'] as const

/** A time parameter: ms since the epoch, or an ISO 8601 date. */
function time (name: string, value: string): number {
  const n = /^\d{1,15}$/.test(value) ? Number(value) : Date.parse(value)
  if (!Number.isFinite(n)) throw new McpError(ErrorCode.InvalidParams, `${AUDIT_URI}: ${name}=${JSON.stringify(value)} is not a time (ms since the epoch or an ISO 8601 date)`)
  return n
}

/** Reads the query of a `mesh://audit?…` URI; -32602 naming a bad parameter. */
export function auditQueryOf (uri: string): AuditQuery {
  const q: AuditQuery = {}
  const at = uri.indexOf('?')
  if (at < 0) return q
  for (const [k, v] of new URLSearchParams(uri.slice(at + 1))) {
    if ((TEXT_PARAMS as readonly string[]).includes(k)) q[k as typeof TEXT_PARAMS[number]] = v
    else if (k === 'since' || k === 'until') q[k] = time(k, v)
    else if (k === 'limit') {
      if (!/^\d{1,7}$/.test(v) || Number(v) < 1) throw new McpError(ErrorCode.InvalidParams, `${AUDIT_URI}: limit=${JSON.stringify(v)} is not a positive integer`)
      q.limit = Number(v)
    } else throw new McpError(ErrorCode.InvalidParams, `${AUDIT_URI}: unknown parameter ${JSON.stringify(k)} (known: principal, tool, outcome, method, since, until, limit)`)
  }
  return q
}

/**
 * `mesh://audit` as a node module: readable and listed only for `mayRead` principals (the
 * control plane's admins and `audit.readers`); others get -32003.
 */
export function auditResource (init: { audit: AuditLog, mayRead: (principal: string) => boolean }): () => NodeModule {
  const read = (ctx: BuiltinReadContext): { contents: Array<{ uri: string, mimeType: string, text: string }> } => {
    if (!init.mayRead(ctx.principal)) {
      throw new McpError(POLICY_DENIED_CODE, `resource ${JSON.stringify(AUDIT_URI)} is not allowed for principal ${JSON.stringify(ctx.principal)}: only the control plane's admins and audit.readers may read the audit log`, { name: 'PolicyDeniedError', code: 'ERR_MCP_NODE_POLICY_DENIED' })
    }
    const entries = init.audit.query(auditQueryOf(ctx.uri))
    return { contents: [{ uri: ctx.uri, mimeType: 'application/json', text: JSON.stringify({ held: init.audit.size, entries }) }] }
  }
  return () => ({
    name: 'audit',
    resources: [{
      resource: { uri: AUDIT_URI, name: 'audit', title: 'Audit log', description: 'The last calls (tools/call, resources/read, prompts/get) this peer allowed or refused, newest first, with principal, target, serving peer and outcome. Admins only.', mimeType: 'application/json' },
      read,
      visible: init.mayRead,
    }],
    resourceTemplates: [{
      template: { uriTemplate: TEMPLATE, name: 'audit-query', title: 'Audit log query', description: 'The audit log filtered by principal and tool (patterns with *), outcome (ok, tool_error, error, cancelled, denied, rate_limited), method, since/until (ms or ISO 8601) and limit (at most 1000). Admins only.', mimeType: 'application/json' },
      prefix: `${AUDIT_URI}?`,
      read,
      visible: init.mayRead,
    }],
  })
}
