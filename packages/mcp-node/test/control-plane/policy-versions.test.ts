// Policy commands across releases (decision 0180): version 1 (tool rules only, as the first
// release wrote them) still replays the same way; version 2 adds scopes, resource and prompt
// rules, limits and server access policies; a replica that knows only version 1 halts on a
// version-2 entry instead of diverging.
import type { Entry } from '@p2p-mcp/consensus'
import { describe, expect, it } from 'vitest'
import { encodeEnvelope } from '../../src/control-plane/envelope.js'
import { PolicyModule } from '../../src/control-plane/policy-module.js'
import { ReplicatedStateMachine } from '../../src/control-plane/state-machine.js'
import type { ApplyContext, Envelope, ReplicatedModule } from '../../src/control-plane/types.js'

let index = 0
const entry = (e: Envelope): Entry => ({ index: ++index, term: 1, type: 'normal', data: encodeEnvelope(e) })
const env = (id: string, cmd: unknown, cv: number): Envelope => ({ v: 1, id, module: 'policy', cv, at: 0, cmd })
const ctx = (commandVersion?: number): ApplyContext => ({ index: 1, timeMs: 1, ...(commandVersion === undefined ? {} : { commandVersion }) })

const seedV1 = { op: 'seed', policy: { default: 'deny', rules: [{ principal: 'local', allow: ['*'] }] }, admins: ['local'], by: 'p1' }
const v2Policy = {
  default: 'deny',
  rules: [{ principal: 'token:*', scopes: ['mesh.read'], resources: { allow: ['mesh://*'] }, prompts: { allow: ['calc__*'] } }],
  limits: [{ principal: 'token:*', requestsPerMinute: 60 }],
  servers: { calc: { maxConcurrentExecutions: 2 } },
}

describe('policy command versions', () => {
  it('decodes a version-1 command as the first release did, and refuses version-2 fields in it', () => {
    const m = new PolicyModule()
    expect(m.apply(seedV1, ctx())).toMatchObject({ ok: true, seeded: true })
    // The same fields, absent commandVersion (an entry of the first release): version 1.
    expect(m.apply({ op: 'set', principal: 'local', policy: v2Policy }, ctx())).toMatchObject({ ok: false, error: { name: 'InvalidCommandError' } })
    expect(m.apply({ op: 'set', principal: 'local', policy: v2Policy }, ctx(1))).toMatchObject({ ok: false, error: { name: 'InvalidCommandError' } })
    expect(m.current.version).toBe(1)
  })

  it('accepts version-2 commands and keeps their fields through a snapshot', () => {
    const m = new PolicyModule()
    m.apply(seedV1, ctx(1))
    expect(m.apply({ op: 'set', principal: 'local', policy: v2Policy }, ctx(2))).toMatchObject({ ok: true, version: 2 })
    const restored = new PolicyModule()
    restored.restore(m.snapshot())
    expect(restored.current.policy).toMatchObject({ limits: [{ principal: 'token:*', requestsPerMinute: 60 }], servers: { calc: { maxConcurrentExecutions: 2 } } })
    expect(restored.current.policy.rules[0]).toMatchObject({ scopes: ['mesh.read'], resources: { allow: ['mesh://*'] } })
  })

  it('a replica of the first release (policy module version 1) halts on a version-2 entry; this release applies both', () => {
    const old = new ReplicatedStateMachine({ maxDedupEntries: 100 })
    // The first release's module: version 1, and it would refuse what it cannot parse.
    const firstRelease: ReplicatedModule = { name: 'policy', version: 1, apply: () => ({ ok: true }), snapshot: () => new Uint8Array(), restore: () => {} }
    old.register(firstRelease)
    const current = new ReplicatedStateMachine({ maxDedupEntries: 100 })
    const module = new PolicyModule()
    current.register(module)
    const log = [entry(env('a', seedV1, 1)), entry(env('b', { op: 'set', principal: 'local', policy: v2Policy }, 2))]
    for (const e of log) { old.apply(e); current.apply(e) }
    expect(old.halted?.message).toMatch(/command version 2 of module policy is newer than 1/)
    expect(current.halted).toBeUndefined()
    expect(module.current).toMatchObject({ version: 2, policy: { limits: [{ requestsPerMinute: 60 }] } })
  })
})
