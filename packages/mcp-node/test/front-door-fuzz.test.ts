// fast-check over what a client or a config file controls (issue 17): `tools/call` arguments
// at the front door and the addresses of a config. No crash, no hang, only typed errors.
// FC_SEED and FC_NUM_RUNS replay or lengthen a run.
import { McpError } from '@modelcontextprotocol/sdk/types.js'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { MAX_ARGUMENT_DEPTH, parseConfig } from '../src/index.js'
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

  it('parseConfig on arbitrary listen, bootstrap and allowPeers strings throws only ConfigError', () => {
    const piece = fc.oneof(fc.constantFrom('/ip4/127.0.0.1', '/ip6/::1', '/tcp/', '/udp/', '/p2p/', '/dns4/localhost', '/quic-v1', '12D3KooW', '65535', '99999', '-1', '/'), fc.string({ maxLength: 12 }))
    const addr = fc.array(piece, { maxLength: 6 }).map((p) => p.join(''))
    fc.assert(fc.property(fc.array(addr, { maxLength: 3 }), fc.array(addr, { maxLength: 3 }), fc.array(addr, { maxLength: 2 }), (listen, bootstrap, allowPeers) => {
      try {
        parseConfig({ listen, bootstrap, allowPeers })
      } catch (err) {
        expect((err as Error).name).toBe('ConfigError')
      }
    }), fcParams('config addresses', 300))
  })
})
