// fast-check over what a client or a config file controls (issue 17): `tools/call` arguments
// at the front door and the addresses of a config. No crash, no hang, only typed errors.
// FC_SEED and FC_NUM_RUNS replay or lengthen a run.
import { McpError } from '@modelcontextprotocol/sdk/types.js'
import fc from 'fast-check'
import { describe, expect, it, vi } from 'vitest'
import { MAX_ARGUMENT_DEPTH, parseConfig } from '../src/index.js'
import { parseConfigText } from '../src/config.js'
import { outcomeTally, typedOutcome } from '@p2p-mcp/testkit/fuzz'
import { checkArguments } from '../src/wire-errors.js'
import { fcParams } from './control-plane/fc-params.js'

function depthOf (v: unknown): number {
  if (typeof v !== 'object' || v === null) return 0
  return 1 + Math.max(0, ...Object.values(v).map(depthOf))
}

describe('front door fuzz', () => {
  it('checkArguments accepts what is within the limits and refuses the rest with -32602', () => {
    const value = fc.letrec((tie) => ({
      node: fc.oneof({ depthSize: 'small', withCrossShrink: true }, fc.jsonValue({ maxDepth: 3 }), fc.array(tie('node'), { maxLength: 3 }), fc.dictionary(fc.string({ maxLength: 4 }), tie('node'), { maxKeys: 3 })),
    })).node
    const wrapped = fc.tuple(value, fc.nat({ max: MAX_ARGUMENT_DEPTH + 8 })).map(([v, extra]) => {
      let out: unknown = v
      for (let i = 0; i < extra; i++) out = { a: out }
      return out
    })
    fc.assert(fc.property(wrapped, (args) => {
      let err: unknown
      try { checkArguments(args) } catch (e) { err = e }
      if (depthOf(args) > MAX_ARGUMENT_DEPTH) {
        expect(err).toBeInstanceOf(McpError)
        expect((err as McpError).code).toBe(-32602)
      } else {
        expect(err).toBeUndefined()
      }
    }), fcParams('checkArguments', 200))
  })

  it('decoder fuzz: config addresses — parseConfig on arbitrary listen, bootstrap and allowPeers strings throws only ConfigError', () => {
    const tally = outcomeTally('config addresses')
    const piece = fc.oneof(fc.constantFrom('/ip4/127.0.0.1', '/ip6/::1', '/tcp/', '/udp/', '/p2p/', '/dns4/localhost', '/quic-v1', '12D3KooW', '65535', '99999', '-1', '/'), fc.string({ maxLength: 12 }))
    const addr = fc.array(piece, { maxLength: 6 }).map((p) => p.join(''))
    fc.assert(fc.property(fc.array(addr, { maxLength: 3 }), fc.array(addr, { maxLength: 3 }), fc.array(addr, { maxLength: 2 }), (listen, bootstrap, allowPeers) => {
      tally.add(typedOutcome('parseConfig', ['ConfigError'], () => parseConfig({ listen, bootstrap, allowPeers })))
    }), fcParams('config addresses', 300))
    tally.print()
  })

  it('decoder fuzz: config file text — JSON and YAML text, valid configs mutated, give a config or ConfigError only', () => {
    const tally = outcomeTally('config file text')
    const valid = {
      name: 'a', listen: ['/ip4/127.0.0.1/tcp/0'], http: { port: 0, tokens: [{ token: 'x'.repeat(16), subject: 's' }] }, heartbeatIntervalMs: 500,
      upstreams: [{ name: 'calc', type: 'stdio', command: 'node', args: ['s.mjs'], env: { A: '1' } }, { name: 'h', type: 'http', url: 'http://127.0.0.1:1/mcp' }],
      policy: { default: 'deny', rules: [{ principal: 'p', allow: ['calc__*'] }] }, timeouts: { defaultMs: 1000, tools: { 'calc__add': 10 } }, retry: { maxAttempts: 2 },
    }
    const keys = ['name', 'listen', 'http', 'heartbeatIntervalMs', 'upstreams', 'policy', 'timeouts', 'retry', 'dataDir', 'bootstrap', 'psk', 'open', 'stdio', 'events', 'controlPlane', 'meshTools', 'balancer', 'logLevel', 'pageSize', 'x']
    const mutatedObject = fc.tuple(fc.dictionary(fc.constantFrom(...keys), fc.jsonValue({ maxDepth: 3 }), { maxKeys: 3 }), fc.subarray(Object.keys(valid)))
      .map(([extra, drop]) => { const o: Record<string, unknown> = { ...valid, ...extra }; for (const k of drop) Reflect.deleteProperty(o, k); return o })
    const yamlSoup = fc.array(fc.oneof(fc.constantFrom('name: a\n', 'listen:\n', '  - /ip4/127.0.0.1/tcp/0\n', 'http: {port: 0}\n', '&a [1, 2]\n', '*a\n', 'x: &b\n', '  - *b\n', '[[[[', ']]]]', '{', '}', '!!binary', '? ', '---\n', '%YAML 1.2\n', '|\n  ', "'", '"'), fc.string({ maxLength: 8 })), { maxLength: 30 })
      .map((p) => p.join(''))
    const text = fc.oneof(
      fc.string({ maxLength: 300 }).map((t) => [t, 'c.yaml'] as const), fc.string({ maxLength: 300 }).map((t) => [t, 'c.json'] as const),
      yamlSoup.map((t) => [t, 'c.yaml'] as const),
      fc.tuple(mutatedObject, fc.nat(), fc.boolean()).map(([o, cut, json]) => {
        const t = json ? JSON.stringify(o) : Object.entries(o).map(([k, v]) => `${k}: ${JSON.stringify(v)}`).join('\n')
        return [cut % 4 === 0 ? t.slice(0, cut % (t.length + 1)) : t, json ? 'c.json' : 'c.yml'] as const
      }),
      fc.integer({ min: 1, max: 5000 }).map((n) => [`${'['.repeat(n)}${']'.repeat(n)}`, 'c.yaml'] as const),
    )
    // the yaml library reports unknown tags and directives as process warnings: noise in the test output, not outcomes
    const quiet = vi.spyOn(process, 'emitWarning').mockImplementation(() => {})
    try {
      fc.assert(fc.property(text, ([t, path]) => {
        tally.add(typedOutcome('parseConfigText', ['ConfigError'], () => parseConfigText(t, path)))
      }), fcParams('config file text', 300))
    } finally {
      quiet.mockRestore()
    }
    tally.print()
    // the valid config itself parses, as JSON and as YAML
    expect(parseConfigText(JSON.stringify(valid), 'c.json').upstreams).toHaveLength(2)
  })
})
