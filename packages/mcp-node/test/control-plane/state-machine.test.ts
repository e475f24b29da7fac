import type { Entry } from '@p2p-mcp/consensus'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { encodeEnvelope } from '../../src/control-plane/envelope.js'
import { KvModule } from '../../src/control-plane/kv-module.js'
import { MembersModule } from '../../src/control-plane/members-module.js'
import { PolicyModule } from '../../src/control-plane/policy-module.js'
import { ReplicatedStateMachine } from '../../src/control-plane/state-machine.js'
import type { Envelope } from '../../src/control-plane/types.js'
import { fcParams } from './fc-params.js'

function replica (): { sm: ReplicatedStateMachine, kv: KvModule, policy: PolicyModule, members: MembersModule } {
  const sm = new ReplicatedStateMachine({ maxDedupEntries: 1_000 })
  const kv = new KvModule()
  const policy = new PolicyModule()
  const members = new MembersModule()
  sm.register(kv)
  sm.register(policy)
  sm.register(members)
  return { sm, kv, policy, members }
}

let index = 0
function entry (e: Envelope | Uint8Array): Entry {
  return { index: ++index, term: 1, type: 'normal', data: e instanceof Uint8Array ? e : encodeEnvelope(e) }
}
const env = (id: string, module: string, cmd: unknown, at = 0, cv = 1): Envelope => ({ v: 1, id, module, cv, at, cmd })

// Operations of the random walk. Request ids come from a small pool, so retries (the same id
// again) happen often; each id always carries the same command, as a retry would.
type Op =
  | { t: 'kv', id: number, key: string, value: number, cas: number | undefined, del: boolean }
  | { t: 'policy', id: number, admin: boolean, deny: string }
  | { t: 'member', id: number, peer: string, op: 'join' | 'leave' | 'role' }
  | { t: 'tick', at: number }
  | { t: 'garbage', bytes: Uint8Array }
  | { t: 'snapshot' }

const op: fc.Arbitrary<Op> = fc.oneof(
  { weight: 6, arbitrary: fc.record({ t: fc.constant('kv' as const), id: fc.nat(60), key: fc.constantFrom('a', 'b', 'c/d'), value: fc.nat(9), cas: fc.option(fc.nat(3), { nil: undefined }), del: fc.boolean() }) },
  { weight: 2, arbitrary: fc.record({ t: fc.constant('policy' as const), id: fc.nat(60), admin: fc.boolean(), deny: fc.constantFrom('x__*', 'y__z') }) },
  { weight: 2, arbitrary: fc.record({ t: fc.constant('member' as const), id: fc.nat(60), peer: fc.constantFrom('p1', 'p2', 'p3'), op: fc.constantFrom('join' as const, 'leave' as const, 'role' as const) }) },
  { weight: 2, arbitrary: fc.record({ t: fc.constant('tick' as const), at: fc.nat(100_000) }) },
  { weight: 1, arbitrary: fc.record({ t: fc.constant('garbage' as const), bytes: fc.uint8Array({ maxLength: 40 }) }) },
  { weight: 1, arbitrary: fc.constant({ t: 'snapshot' as const }) },
)

/** The command a request id stands for: the first op that used it fixes it. */
function toEntry (o: Op, fixed: Map<string, Envelope>, n: number): Entry {
  if (o.t === 'garbage') return entry(o.bytes)
  if (o.t === 'tick') return entry(env(`tick-${n}`, '$tick', null, o.at))
  if (o.t === 'snapshot') throw new Error('unreachable')
  const id = `${o.t}-${o.id}`
  let e = fixed.get(id)
  if (e === undefined) {
    if (o.t === 'kv') e = env(id, 'kv', o.del ? { op: 'delete', ns: 'ns', key: o.key, ...(o.cas === undefined || o.cas === 0 ? {} : { expectVersion: o.cas }) } : { op: 'put', ns: 'ns', key: o.key, value: o.value, ...(o.cas === undefined ? {} : { expectVersion: o.cas }) })
    else if (o.t === 'policy') e = env(id, 'policy', { op: 'set', principal: o.admin ? 'alice' : 'mallory', policy: { default: 'allow', rules: [{ principal: '*', deny: [o.deny] }] } })
    else e = env(id, 'members', o.op === 'join' ? { op: 'join', peerId: o.peer, voterEligible: true } : o.op === 'leave' ? { op: 'leave', peerId: o.peer } : { op: 'role', peerId: o.peer, role: 'learner' })
    fixed.set(id, e)
  }
  return entry(e)
}

/** Reference model of the kv module with exactly-once request ids. */
class KvModel {
  data = new Map<string, { value: number, version: number }>()
  applied = new Map<string, unknown>()
  apply (e: Envelope): unknown {
    const seen = this.applied.get(e.id)
    if (seen !== undefined) return seen
    const c = e.cmd as { op: string, key: string, value?: number, expectVersion?: number }
    const cur = this.data.get(c.key)
    let r: unknown
    if (c.expectVersion !== undefined && c.expectVersion !== (cur?.version ?? 0)) r = { ok: false, name: 'VersionMismatchError' }
    else if (c.op === 'delete') { r = { ok: true, deleted: cur !== undefined }; this.data.delete(c.key) } else {
      this.data.set(c.key, { value: c.value!, version: (cur?.version ?? 0) + 1 })
      r = { ok: true, version: (cur?.version ?? 0) + 1 }
    }
    this.applied.set(e.id, r)
    return r
  }
}

const seed = (r: ReturnType<typeof replica>): void => {
  r.sm.apply(entry(env('seed', 'policy', { op: 'seed', policy: { default: 'allow', rules: [] }, admins: ['alice'], by: 'p1' }, 1)))
}

describe('ReplicatedStateMachine', () => {
  it('applies each request id once, matches a reference kv model, and a replica restored from a snapshot at any point ends identical', () => {
    fc.assert(fc.property(fc.array(op, { minLength: 1, maxLength: 120 }), (ops) => {
      const a = replica()
      seed(a)
      let b: ReturnType<typeof replica> | undefined
      const model = new KvModel()
      const fixed = new Map<string, Envelope>()
      let lastTime = a.sm.timeMs
      ops.forEach((o, n) => {
        if (o.t === 'snapshot') {
          b = replica()
          b.sm.restore(a.sm.snapshot())
          return
        }
        const e = toEntry(o, fixed, n)
        const ra = a.sm.apply(e)
        const rb = b?.sm.apply(e)
        if (b !== undefined) expect(rb).toEqual(ra)
        expect(a.sm.timeMs).toBeGreaterThanOrEqual(lastTime)
        lastTime = a.sm.timeMs
        if (o.t === 'kv') {
          const want = model.apply(fixed.get(`kv-${o.id}`)!) as { ok: boolean, name?: string }
          expect((ra as { ok: boolean }).ok).toBe(want.ok)
          if (!want.ok) expect((ra as { error: { name: string } }).error.name).toBe(want.name)
        }
        // a retried id carries its first command, whoever retries it
        if (o.t === 'policy' && (fixed.get(`policy-${o.id}`)!.cmd as { principal: string }).principal === 'mallory') expect((ra as { error?: { name: string } }).error?.name).toBe('NotAdminError')
      })
      for (const [k, v] of model.data) expect(a.kv.get('ns', k)).toMatchObject({ value: v.value, version: v.version })
      expect(a.kv.list('ns').length).toBe(model.data.size)
      expect(a.sm.halted).toBeUndefined()
      if (b !== undefined) expect(new TextDecoder().decode(b.sm.snapshot())).toBe(new TextDecoder().decode(a.sm.snapshot()))
    }), fcParams('state-machine replay', 200))
  })

  it('halts on a newer command version, a newer envelope or an unknown module, and applies nothing after', () => {
    for (const bad of [env('x', 'kv', { op: 'put', ns: 'ns', key: 'k', value: 1 }, 0, 2), { ...env('y', 'kv', {}), v: 2 }, env('z', 'scheduler', {})]) {
      const r = replica()
      const halts: string[] = []
      const sm = new ReplicatedStateMachine({ onHalt: (e) => halts.push(e.message) })
      sm.register(r.kv)
      const res = sm.apply(entry(bad)) as { ok: boolean, error: { name: string, message: string } }
      expect(res.ok).toBe(false)
      expect(res.error.name).toBe('ControlPlaneHaltedError')
      expect(halts).toHaveLength(1)
      expect(halts[0]).toMatch(/halted at log index \d+: /)
      sm.apply(entry(env('after', 'kv', { op: 'put', ns: 'ns', key: 'k', value: 1 })))
      expect(r.kv.get('ns', 'k')).toBeUndefined()
      expect(sm.halted?.name).toBe('ControlPlaneHaltedError')
    }
  })

  it('log time is the max of the leader stamps; ticks reach every module', () => {
    const sm = new ReplicatedStateMachine()
    const ticks: number[] = []
    sm.register({ name: 'sched', version: 1, apply: () => ({ ok: true }), tick: (ctx) => { ticks.push(ctx.timeMs) }, snapshot: () => new Uint8Array(0), restore: () => {} })
    sm.apply(entry(env('t1', '$tick', null, 1000)))
    sm.apply(entry(env('t2', '$tick', null, 900)))
    sm.apply(entry(env('c', 'sched', {}, 0)))
    sm.apply(entry(env('t3', '$tick', null, 2000)))
    expect(ticks).toEqual([1000, 1000, 2000])
    expect(sm.timeMs).toBe(2000)
  })

  it('remembers request ids for the dedup window in log time, then forgets them', () => {
    const sm = new ReplicatedStateMachine({ dedupWindowMs: 1000 })
    const kv = new KvModule()
    sm.register(kv)
    const put = env('p', 'kv', { op: 'put', ns: 'ns', key: 'k', value: 1 }, 10)
    sm.apply(entry(put))
    sm.apply(entry(put))
    expect(kv.get('ns', 'k')?.version).toBe(1)
    sm.apply(entry(env('t', '$tick', null, 5000)))
    sm.apply(entry(put))
    expect(kv.get('ns', 'k')?.version).toBe(2)
  })

  it('kv watches see changes under their prefix; CAS on version 0 creates only once', () => {
    const r = replica()
    const seen: string[] = []
    const off = r.kv.watch('ns', 'a/', (e) => seen.push(`${e.type}:${e.key}`))
    r.sm.apply(entry(env('1', 'kv', { op: 'put', ns: 'ns', key: 'a/1', value: 1, expectVersion: 0 })))
    const second = r.sm.apply(entry(env('2', 'kv', { op: 'put', ns: 'ns', key: 'a/1', value: 2, expectVersion: 0 }))) as { ok: boolean, error: { name: string } }
    expect(second.error.name).toBe('VersionMismatchError')
    r.sm.apply(entry(env('3', 'kv', { op: 'put', ns: 'ns', key: 'b', value: 2 })))
    r.sm.apply(entry(env('4', 'kv', { op: 'delete', ns: 'ns', key: 'a/1' })))
    off()
    r.sm.apply(entry(env('5', 'kv', { op: 'put', ns: 'ns', key: 'a/2', value: 1 })))
    expect(seen).toEqual(['put:a/1', 'delete:a/1'])
  })

  it('rejects bad commands with a typed result naming the field', () => {
    const r = replica()
    const res = r.sm.apply(entry(env('1', 'kv', { op: 'put', ns: 'BAD NS', key: 'k', value: 1 }))) as { ok: boolean, error: { name: string, message: string } }
    expect(res.error.name).toBe('InvalidCommandError')
    expect(res.error.message).toMatch(/ns/)
    const big = r.sm.apply(entry(env('2', 'kv', { op: 'put', ns: 'ns', key: 'k', value: 'x'.repeat(70_000) }))) as { error: { name: string } }
    expect(big.error.name).toBe('ValueTooLargeError')
  })

  it('policy: seeded once, then changed by admins only, with compare-and-set on the version', () => {
    const r = replica()
    seed(r)
    const again = r.sm.apply(entry(env('s2', 'policy', { op: 'seed', policy: { default: 'deny', rules: [] }, admins: ['bob'], by: 'p2' }))) as { seeded: boolean }
    expect(again.seeded).toBe(false)
    expect(r.policy.current.policy.default).toBe('allow')
    const stale = r.sm.apply(entry(env('s3', 'policy', { op: 'set', principal: 'alice', policy: { default: 'deny', rules: [] }, expectVersion: 7 }))) as { error: { name: string } }
    expect(stale.error.name).toBe('VersionMismatchError')
    r.sm.apply(entry(env('s4', 'policy', { op: 'set', principal: 'alice', policy: { default: 'deny', rules: [] }, expectVersion: 1 })))
    expect(r.policy.current).toMatchObject({ version: 2, updatedBy: 'alice', policy: { default: 'deny' } })
  })
})
