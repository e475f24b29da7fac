import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { JSONRPCMessageSchema } from '@modelcontextprotocol/sdk/types.js'
import { checkJsonRpc } from '../src/json-rpc.js'
import { outcomeTally, typedOutcome } from '@p2p-mcp/testkit/fuzz'

const numRuns = Number(process.env.FC_NUM_RUNS ?? 300)
const id = fc.oneof(fc.string(), fc.integer())
const obj = fc.dictionary(fc.string().filter((k) => k !== '_meta'), fc.jsonValue())

describe('checkJsonRpc', () => {
  it('accepts every well-formed request, notification, result and error, as the SDK schema does', () => {
    const message = fc.oneof(
      fc.record({ jsonrpc: fc.constant('2.0'), id, method: fc.string(), params: obj }, { requiredKeys: ['jsonrpc', 'id', 'method'] }),
      fc.record({ jsonrpc: fc.constant('2.0'), method: fc.string(), params: obj }, { requiredKeys: ['jsonrpc', 'method'] }),
      fc.record({ jsonrpc: fc.constant('2.0'), id, result: obj }),
      fc.record({ jsonrpc: fc.constant('2.0'), id, error: fc.record({ code: fc.integer(), message: fc.string() }) }),
    )
    fc.assert(fc.property(message, (m) => {
      expect(checkJsonRpc(m)).toBe(m)
      expect(JSONRPCMessageSchema.safeParse(m).success).toBe(true)
    }), { numRuns })
  })

  it('decoder fuzz: JSON-RPC shape check — never throws on arbitrary JSON, and whatever it accepts the SDK schema accepts too', () => {
    const tally = outcomeTally('JSON-RPC shape check')
    const meta = fc.record({ _meta: fc.jsonValue() }, { requiredKeys: [] })
    const part = fc.oneof(fc.jsonValue(), meta)
    const anything = fc.oneof(fc.jsonValue(), fc.record({ jsonrpc: fc.constantFrom('2.0', '1.0', 2), id: fc.jsonValue(), method: fc.jsonValue(), params: part, result: part, error: fc.jsonValue() }, { requiredKeys: [] }),
      // near misses of well-formed messages: one field of the right kind, the rest arbitrary
      fc.record({ jsonrpc: fc.constant('2.0'), id: fc.oneof(id, fc.jsonValue()), method: fc.oneof(fc.string(), fc.jsonValue()), params: fc.oneof(obj, part) }, { requiredKeys: ['jsonrpc'] }),
      fc.record({ jsonrpc: fc.constant('2.0'), id: fc.oneof(id, fc.jsonValue()), result: fc.oneof(obj, part), error: fc.oneof(fc.record({ code: fc.integer(), message: fc.string() }), fc.jsonValue()) }, { requiredKeys: ['jsonrpc'] }))
    fc.assert(fc.property(anything, (v) => {
      let res: ReturnType<typeof checkJsonRpc> = ''
      // No error class is allowed: the check answers with a sentence, it never throws.
      typedOutcome('checkJsonRpc', [], () => { res = checkJsonRpc(v) })
      tally.add(typeof res === 'string' ? 'refused' : 'accepted')
      if (typeof res !== 'string') expect(JSONRPCMessageSchema.safeParse(v).success).toBe(true)
    }), { numRuns })
    tally.print()
  })

  it('says what is wrong', () => {
    expect(checkJsonRpc([])).toMatch(/batches/)
    expect(checkJsonRpc({ jsonrpc: '2.0', id: 1.5, method: 'x' })).toMatch(/id/)
    expect(checkJsonRpc({ jsonrpc: '2.0', id: 1, result: 3 })).toMatch(/result is not an object/)
    expect(checkJsonRpc({ jsonrpc: '2.0', id: 1, error: { code: 'x', message: '' } })).toMatch(/error.code/)
    expect(checkJsonRpc({ jsonrpc: '2.0' })).toMatch(/neither/)
    // found by fast-check (seed 1221579741): the SDK rejects a response with params
    expect(checkJsonRpc({ jsonrpc: '2.0', id: '', params: null, result: {} })).toMatch(/a response carries params/)
    expect(checkJsonRpc({ jsonrpc: '2.0', id: 1, params: {}, error: { code: 1, message: 'x' } })).toMatch(/a response carries params/)
    expect(checkJsonRpc({ jsonrpc: '2.0', method: 'x', params: { _meta: null } })).toMatch(/params._meta/)
    expect(checkJsonRpc({ jsonrpc: '2.0', id: 1, result: { _meta: 3 } })).toMatch(/result._meta/)
    // found by the decoder fuzz (seed 1248525656): ids and codes past 2^53 - 1 pass Number.isInteger, not the SDK's schema
    expect(checkJsonRpc({ jsonrpc: '2.0', id: 9007199254740992, error: { code: 0, message: '' } })).toMatch(/id is not/)
    expect(checkJsonRpc({ jsonrpc: '2.0', id: 1, error: { code: -9007199254740992, message: '' } })).toMatch(/error.code/)
    expect(JSONRPCMessageSchema.safeParse({ jsonrpc: '2.0', id: 9007199254740992, error: { code: 0, message: '' } }).success).toBe(false)
  })
})
