import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { PolicyModule } from '../../src/control-plane/policy-module.js'
import { TrustModule, type TrustState } from '../../src/control-plane/trust-module.js'
import { fcParams } from './fc-params.js'

const h = (c: string): string => c.repeat(64)
const seeded = (): { policy: PolicyModule, trust: TrustModule } => {
  const policy = new PolicyModule()
  policy.apply({ op: 'seed', policy: { default: 'allow', rules: [] }, admins: ['alice'], by: 'p0' }, { index: 1, timeMs: 1 })
  return { policy, trust: new TrustModule(policy) }
}

describe('trust module', () => {
  it('the first first-use command in log order pins a name; later ones, with any hash, get the pin back', () => {
    const { trust } = seeded()
    const first = trust.apply({ op: 'first-use', server: 'calc', hash: h('a'), tools: [['add', h('1'), null]], by: 'p1' }, { index: 2, timeMs: 10 })
    expect(first).toMatchObject({ ok: true, pinned: true, pin: { hash: h('a'), source: 'first-use', revision: 1, pinnedBy: 'p1' } })
    for (const [i, hash] of [h('b'), h('b'), h('a')].entries()) {
      expect(trust.apply({ op: 'first-use', server: 'calc', hash, tools: [], by: `p${i + 2}` }, { index: 3 + i, timeMs: 20 })).toMatchObject({ ok: true, pinned: false, pin: { hash: h('a'), pinnedBy: 'p1' } })
    }
    expect(trust.current.pins.calc?.hash).toBe(h('a'))
  })

  it('only admins pin, unpin, ban and unban; a pin to publishers keeps the hash; re-pinning is the upgrade path', () => {
    const { trust } = seeded()
    const ctx = { index: 2, timeMs: 5 }
    trust.apply({ op: 'first-use', server: 'calc', hash: h('a'), tools: [], by: 'p1' }, ctx)
    expect(trust.apply({ op: 'pin', principal: 'mallory', server: 'calc', hash: h('b') }, ctx)).toMatchObject({ ok: false, error: { name: 'NotAdminError' } })
    expect(trust.apply({ op: 'ban', principal: 'mallory', peerId: 'p9' }, ctx)).toMatchObject({ ok: false, error: { name: 'NotAdminError' } })
    expect(trust.apply({ op: 'pin', principal: 'alice', server: 'calc', publishers: ['p2', 'p1', 'p1'] }, ctx)).toMatchObject({ ok: true, pin: { hash: h('a'), publishers: ['p1', 'p2'], revision: 2, source: 'admin' } })
    expect(trust.apply({ op: 'pin', principal: 'alice', server: 'calc', hash: h('c'), expectRevision: 1 }, ctx)).toMatchObject({ ok: false, error: { name: 'VersionMismatchError' } })
    expect(trust.apply({ op: 'pin', principal: 'alice', server: 'calc', hash: h('c'), expectRevision: 2 }, ctx)).toMatchObject({ ok: true, pin: { hash: h('c'), publishers: ['p1', 'p2'], revision: 3 } })
    expect(trust.apply({ op: 'pin', principal: 'alice', server: 'calc', publishers: null }, ctx)).toMatchObject({ ok: true, pin: { hash: h('c'), revision: 4 } })
    expect(trust.current.pins.calc?.publishers).toBeUndefined()
    // a publisher-only pin of a new name: the first use fills in its hash
    trust.apply({ op: 'pin', principal: 'alice', server: 'ledger', publishers: ['p3'] }, ctx)
    expect(trust.apply({ op: 'first-use', server: 'ledger', hash: h('e'), tools: [], by: 'p1', publisher: 'p1' }, ctx)).toMatchObject({ ok: false, error: { name: 'NotAPublisherError' } })
    expect(trust.apply({ op: 'first-use', server: 'ledger', hash: h('d'), tools: [], by: 'p1', publisher: 'p3' }, ctx)).toMatchObject({ ok: true, pinned: true, pin: { hash: h('d'), publishers: ['p3'], source: 'admin' } })
    expect(trust.apply({ op: 'ban', principal: 'alice', peerId: 'p9', reason: 'impostor' }, ctx)).toMatchObject({ ok: true })
    expect(trust.current.bans.p9).toMatchObject({ by: 'alice', reason: 'impostor' })
    expect(trust.apply({ op: 'unban', principal: 'alice', peerId: 'p9' }, ctx)).toEqual({ ok: true, removed: true })
    expect(trust.apply({ op: 'unpin', principal: 'alice', server: 'calc' }, ctx)).toEqual({ ok: true, removed: true })
    expect(trust.current.pins.calc).toBeUndefined()
  })

  it('rejects malformed commands with a typed result and never throws (fuzz)', () => {
    const { trust } = seeded()
    fc.assert(fc.property(fc.oneof(fc.anything(), fc.record({ op: fc.constantFrom('first-use', 'pin', 'unpin', 'ban', 'unban', 'x'), server: fc.string(), hash: fc.string(), principal: fc.string(), peerId: fc.string(), tools: fc.anything() }, { requiredKeys: [] })), (cmd) => {
      const before = JSON.stringify(trust.current)
      const r = trust.apply(cmd, { index: 1, timeMs: 1 }) as { ok: boolean }
      if (!r.ok) expect(JSON.stringify(trust.current)).toBe(before)
    }), fcParams('trust-module decode', 500))
  })

  it('replicas applying the same random log agree, and a snapshot restores the same state (model check)', () => {
    type Op = { op: 'first-use', server: string, hash: string, by: string } | { op: 'pin', principal: string, server: string, hash?: string, publishers?: string[] } | { op: 'ban', principal: string, peerId: string } | { op: 'unpin', principal: string, server: string }
    const ops: fc.Arbitrary<Op> = fc.oneof(
      { weight: 5, arbitrary: fc.record({ op: fc.constant('first-use' as const), server: fc.constantFrom('calc', 'ledger', 'notes'), hash: fc.constantFrom(h('a'), h('b'), h('c')), by: fc.constantFrom('p1', 'p2') }) },
      { weight: 2, arbitrary: fc.record({ op: fc.constant('pin' as const), principal: fc.constantFrom('alice', 'mallory'), server: fc.constantFrom('calc', 'ledger'), hash: fc.constantFrom(h('a'), h('d')), publishers: fc.array(fc.constantFrom('p1', 'p2', 'p3'), { minLength: 1, maxLength: 3 }) }, { requiredKeys: ['op', 'principal', 'server'] }) },
      { weight: 1, arbitrary: fc.record({ op: fc.constant('ban' as const), principal: fc.constantFrom('alice', 'mallory'), peerId: fc.constantFrom('p1', 'p2') }) },
      { weight: 1, arbitrary: fc.record({ op: fc.constant('unpin' as const), principal: fc.constantFrom('alice', 'mallory'), server: fc.constantFrom('calc', 'ledger') }) },
    )
    fc.assert(fc.property(fc.array(ops, { maxLength: 40 }), (log) => {
      const a = seeded()
      const b = seeded()
      // The reference: a name's hash is the first first-use hash after its last admin change (or the admin's hash).
      const model = new Map<string, string>()
      // Names pinned to publishers: a first use without a publisher is refused there.
      const published = new Set<string>()
      for (const [i, cmd] of log.entries()) {
        const full = cmd.op === 'first-use' ? { ...cmd, tools: [] } : cmd
        a.trust.apply(full, { index: i + 2, timeMs: i })
        b.trust.apply(full, { index: i + 2, timeMs: i })
        if (cmd.op === 'first-use' && !model.has(cmd.server) && !published.has(cmd.server)) model.set(cmd.server, cmd.hash)
        if (cmd.op === 'pin' && cmd.principal === 'alice' && (cmd.hash !== undefined || cmd.publishers !== undefined)) {
          if (cmd.hash !== undefined) model.set(cmd.server, cmd.hash)
          if (cmd.publishers !== undefined) published.add(cmd.server)
        }
        if (cmd.op === 'unpin' && cmd.principal === 'alice') { model.delete(cmd.server); published.delete(cmd.server) }
      }
      expect(a.trust.current).toEqual(b.trust.current)
      for (const server of ['calc', 'ledger', 'notes']) expect(a.trust.current.pins[server]?.hash).toBe(model.get(server))
      const restored = seeded()
      restored.trust.restore(a.trust.snapshot())
      expect(restored.trust.current).toEqual(a.trust.current)
    }), fcParams('trust-module model', 200))
  })

  it('a server named like an Object method is an ordinary name', () => {
    const { trust } = seeded()
    expect(trust.apply({ op: 'first-use', server: 'constructor', hash: h('a'), tools: [], by: 'p1' }, { index: 2, timeMs: 1 })).toMatchObject({ ok: true, pinned: true, pin: { revision: 1 } })
    expect(trust.apply({ op: 'unpin', principal: 'alice', server: 'toString' }, { index: 3, timeMs: 1 })).toEqual({ ok: true, removed: false })
  })

  it('an empty snapshot (a log from before this module) restores the empty state', () => {
    const { trust } = seeded()
    let seen: TrustState | undefined
    trust.onChange((s) => { seen = s })
    trust.restore(new Uint8Array(0))
    expect(seen).toEqual(TrustModule.empty())
  })
})
