// The audit log's ring buffer and its query, and the parameters of `mesh://audit?…`.
import { McpError } from '@modelcontextprotocol/sdk/types.js'
import { describe, expect, it } from 'vitest'
import { AuditLog, type AuditEntry } from '../src/audit/audit-log.js'
import { auditQueryOf } from '../src/audit/audit-resource.js'

const entry = (i: number, over: Partial<AuditEntry> = {}): AuditEntry => ({
  at: 1_000 + i, method: 'tools/call', principal: i % 2 === 0 ? 'token:alice' : 'token:bob', target: `calc__op${i % 3}`, server: 'calc',
  peer: '12D3KooWpeer', outcome: i % 5 === 0 ? 'denied' : 'ok', role: 'entry', durationMs: 1, ...over,
})

describe('AuditLog', () => {
  it('keeps the last maxEntries, newest first', () => {
    const log = new AuditLog({ maxEntries: 10 })
    for (let i = 0; i < 25; i++) log.record(entry(i))
    expect(log.size).toBe(10)
    expect(log.query({ limit: 1000 }).map((e) => e.at)).toEqual(Array.from({ length: 10 }, (_, k) => 1_024 - k))
  })

  it('filters by principal and tool pattern, outcome, method and time, and caps the answer', () => {
    const log = new AuditLog({ maxEntries: 100 })
    for (let i = 0; i < 50; i++) log.record(entry(i))
    log.record(entry(50, { method: 'resources/read', target: 'file:///a' }))
    expect(log.query({ principal: 'token:alice', outcome: 'denied' }).every((e) => e.principal === 'token:alice' && e.outcome === 'denied')).toBe(true)
    expect(log.query({ principal: 'token:alice', outcome: 'denied' })).toHaveLength(6) // 0, 10, …, 50
    expect(log.query({ tool: 'calc__op1' }).every((e) => e.target === 'calc__op1')).toBe(true)
    expect(log.query({ tool: 'calc__*', since: 1_040, until: 1_044 }).map((e) => e.at)).toEqual([1_044, 1_043, 1_042, 1_041, 1_040])
    expect(log.query({ method: 'resources/read' }).map((e) => e.target)).toEqual(['file:///a'])
    expect(log.query({ limit: 3 })).toHaveLength(3)
    expect(log.query({})).toHaveLength(51)
  })

  it('counts every entry by method, outcome and role and writes one log line each', () => {
    const lines: unknown[] = []
    const counts: Array<Record<string, string>> = []
    const logger = { debug: () => {}, info: (o: unknown) => { lines.push(o) }, warn: (o: unknown) => { lines.push(o) }, error: () => {} }
    const log = new AuditLog({ maxEntries: 2, logger, counter: { inc: (labels: Record<string, string>) => { counts.push(labels) } } as never })
    log.record(entry(0))
    log.record(entry(1))
    log.record(entry(2))
    expect(lines).toHaveLength(3)
    expect(counts).toEqual([{ method: 'tools/call', outcome: 'denied', role: 'entry' }, { method: 'tools/call', outcome: 'ok', role: 'entry' }, { method: 'tools/call', outcome: 'ok', role: 'entry' }])
  })
})

describe('mesh://audit query parameters', () => {
  it('reads principal, tool, outcome, method, since/until (ms or ISO) and limit', () => {
    expect(auditQueryOf('mesh://audit')).toEqual({})
    expect(auditQueryOf('mesh://audit?principal=token%3Aalice&tool=calc__*&outcome=denied&method=tools%2Fcall&since=1000&until=2026-12-07T00%3A00%3A00Z&limit=5')).toEqual({
      principal: 'token:alice', tool: 'calc__*', outcome: 'denied', method: 'tools/call', since: 1000, until: Date.parse('2026-12-07T00:00:00Z'), limit: 5,
    })
  })

  it('refuses an unknown parameter or a bad value with -32602 naming it', () => {
    for (const [uri, what] of [['mesh://audit?who=x', 'who'], ['mesh://audit?since=yesterday', 'since'], ['mesh://audit?limit=0', 'limit'], ['mesh://audit?limit=many', 'limit']] as const) {
      let err: unknown
      try { auditQueryOf(uri) } catch (e) { err = e }
      expect(err).toBeInstanceOf(McpError)
      expect((err as McpError).code).toBe(-32602)
      expect((err as McpError).message).toContain(what)
    }
  })
})
