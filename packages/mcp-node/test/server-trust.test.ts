import type { ProviderMatch, ServerEntry } from '@p2p-mcp/dht-registry'
import { describe, expect, it } from 'vitest'
import { parseConfig } from '../src/config.js'
import { noopLogger } from '../src/logger.js'
import { TrustConfigSchema } from '../src/trust/config-schema.js'
import { ServerTrust, pinHash } from '../src/trust/server-trust.js'
import type { TrustState } from '../src/control-plane/trust-module.js'

const P = ['12D3KooWCKZxqSqko9ys3R4CbwzwcxYNfc1M5AJFCsPmbiiSEawS', '12D3KooWLDY9ftWGyocZoV3prXg53XgH6poHUCL19n7mTkQiZgTd', '12D3KooWB6v3cS4nDWLQr3brEfBmVENz8m9xhKRN43ThvM3Mw1Sd'] as const
const [real, other, third] = P

function entry (name: string, inputHash: string, extra: string[] = [], version = '1.0.0'): ServerEntry {
  const tools = [{ name: 'add', inputSchemaHash: inputHash }, ...extra.map((t) => ({ name: t, inputSchemaHash: 'e'.repeat(64) }))]
  return { name, version, tools, resourceTemplates: [], prompts: [] }
}
function provider (peerId: string, servers: ServerEntry[], source: ProviderMatch['source'] = 'gossip'): ProviderMatch {
  return { peerId, source, score: { distance: 0, load: 0, latencyMs: 0 }, descriptor: { peerId, servers } } as unknown as ProviderMatch
}
const served = (ps: ProviderMatch[]): string[] => ps.flatMap((p) => p.descriptor.servers.map((s) => `${s.name}@${p.peerId.slice(-4)}`)).sort()
const trust = (config: unknown, controlPlaneEnabled = true): ServerTrust => new ServerTrust({ config: TrustConfigSchema.parse(config), controlPlaneEnabled, logger: noopLogger })
const state = (version: number, pins: TrustState['pins'], bans: TrustState['bans'] = {}): TrustState => ({ version, pins, bans })

describe('server trust', () => {
  const good = entry('calc', 'a'.repeat(64))
  const bad = entry('calc', 'b'.repeat(64), ['steal'])

  it('the pin hash covers the tools and their schema hashes, not the version', () => {
    expect(pinHash(entry('calc', 'a'.repeat(64), [], '2.0.0'))).toBe(pinHash(good))
    expect(pinHash(bad)).not.toBe(pinHash(good))
    expect(pinHash(entry('calc', 'a'.repeat(64), ['more']))).not.toBe(pinHash(good))
  })

  it('mesh mode: an unpinned name is held (not served) and offered for a first-use pin; once pinned, only its hash is a replica', () => {
    const t = trust({})
    const offered: string[] = []
    t.onHeld((held) => { offered.push(...held.map((x) => x.hash)) })
    const providers = [provider(real, [good], 'self'), provider(other, [bad]), provider(third, [bad])]
    // only this peer's own server is served (to its own clients) while the mesh decides
    expect(served(t.filter(providers))).toEqual([`calc@${real.slice(-4)}`])
    expect(t.held).toEqual([])
    expect(t.unpinned.map((x) => x.server)).toEqual(['calc'])
    expect(t.filter(providers.slice(1))).toEqual([])
    expect(t.held.map((x) => x.server)).toEqual(['calc'])
    expect(offered[0]).toBe(pinHash(good)) // its own definition first, not the majority's
    t.setReplicated(state(1, { calc: { hash: pinHash(good), source: 'first-use', revision: 1, pinnedAtMs: 0, pinnedBy: real } }))
    expect(served(t.filter(providers))).toEqual([`calc@${real.slice(-4)}`])
    expect(t.refused.map((r) => [r.peerId, r.reason])).toEqual([[other, 'hash'], [third, 'hash']])
    expect(t.held).toEqual([])
  })

  it('publishers pinned mesh-wide or in the config: other peers are refused even with the same hash; both lists must admit', () => {
    const t = trust({ servers: { calc: { publishers: [real, other] } } })
    t.setReplicated(state(1, { calc: { hash: pinHash(good), publishers: [real, third], source: 'admin', revision: 2, pinnedAtMs: 0, pinnedBy: 'alice' } }))
    const out = t.filter([provider(real, [good]), provider(other, [good]), provider(third, [good])])
    expect(served(out)).toEqual([`calc@${real.slice(-4)}`])
    expect(t.refused.map((r) => r.reason)).toEqual(['publisher', 'publisher'])
  })

  it('local mode (no control plane): the first definition seen pins the name at this peer; a config hash overrides it', () => {
    const t = trust({}, false)
    expect(t.mode).toBe('local')
    expect(served(t.filter([provider(real, [good])]))).toEqual([`calc@${real.slice(-4)}`])
    // impostors arriving later, however many, are refused
    expect(served(t.filter([provider(real, [good]), provider(other, [bad]), provider(third, [bad])]))).toEqual([`calc@${real.slice(-4)}`])
    expect(t.pinnedHash('calc')).toEqual({ hash: pinHash(good), by: 'local' })
    const pinnedByConfig = trust({ servers: { calc: { hash: pinHash(bad) } } }, false)
    expect(served(pinnedByConfig.filter([provider(real, [good]), provider(other, [bad])]))).toEqual([`calc@${other.slice(-4)}`])
  })

  it('a banned peer (config or mesh-wide) is left out whole, every server of it', () => {
    const notes = entry('notes', 'c'.repeat(64))
    const t = trust({ bannedPeers: [third] }, false)
    t.setReplicated(state(1, {}, { [other]: { atMs: 0, by: 'alice', reason: 'stolen key' } }))
    expect(t.isBanned(third) && t.isBanned(other) && !t.isBanned(real)).toBe(true)
    expect(served(t.filter([provider(real, [good]), provider(other, [good, notes]), provider(third, [notes])]))).toEqual([`calc@${real.slice(-4)}`])
    expect(t.refused.filter((r) => r.reason === 'banned')).toHaveLength(3)
  })

  it('an older replicated state is not installed over a newer one', () => {
    const t = trust({})
    expect(t.setReplicated(state(3, {}))).toBe(true)
    expect(t.setReplicated(state(2, { calc: { hash: pinHash(good), source: 'first-use', revision: 1, pinnedAtMs: 0, pinnedBy: real } }))).toBe(false)
    expect(t.state.version).toBe(3)
  })

  it('a wrong trust config is a ConfigError naming the field', () => {
    expect(() => parseConfig({ trust: { servers: { calc: { publishers: ['not-a-peer'] } } } })).toThrow(/trust\.servers\.calc\.publishers\.0: "not-a-peer" is not a peer id/)
    expect(() => parseConfig({ trust: { servers: { calc: { hash: 'abc' } } } })).toThrow(/trust\.servers\.calc\.hash: a sha256 hex digest/)
    expect(() => parseConfig({ trust: { firstUse: 'sometimes' } })).toThrow(/trust\.firstUse/)
    expect(parseConfig({}).trust).toEqual({ firstUse: 'auto', servers: {}, bannedPeers: [] })
  })
})
