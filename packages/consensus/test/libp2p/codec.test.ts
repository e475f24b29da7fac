import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { decodeFrame, encodeChunkFrame, encodeMessagesFrame } from '../../src/codec/message-codec.js'
import type { Message, MessageType } from '../../src/types.js'
import { fcParams } from '../support/fc.js'
import { outcomeTally, typedOutcome } from '@p2p-mcp/testkit/fuzz'

const TYPES: MessageType[] = ['app', 'appResp', 'vote', 'voteResp', 'preVote', 'preVoteResp', 'heartbeat', 'heartbeatResp', 'snap', 'prop', 'readIndex', 'readIndexResp', 'transferLeader', 'timeoutNow']
const nat = fc.nat({ max: Number.MAX_SAFE_INTEGER })
const opt = <T>(a: fc.Arbitrary<T>): fc.Arbitrary<T | undefined> => fc.option(a, { nil: undefined })
const entry = fc.record({
  index: nat, term: nat, type: fc.constantFrom('normal' as const, 'conf' as const), data: fc.uint8Array({ maxLength: 32 }),
  ctx: opt(fc.string({ maxLength: 10 }))
}).map(e => {
  const out: Message['entries'] extends Array<infer E> | undefined ? E : never = { index: e.index, term: e.term, type: e.type, data: e.data }
  if (e.type === 'conf') out.change = { type: 'addLearner', node: 'p' }
  if (e.ctx !== undefined) out.ctx = e.ctx
  return out
})
const message: fc.Arbitrary<Message> = fc.record({
  type: fc.constantFrom(...TYPES), term: nat, index: opt(nat), logTerm: opt(nat), commit: opt(nat), entries: opt(fc.array(entry, { maxLength: 4 })),
  reject: opt(fc.boolean()), rejectHint: opt(nat), context: opt(fc.string({ maxLength: 12 })),
  snapshot: opt(fc.record({ meta: fc.record({ index: nat, term: nat, conf: fc.record({ voters: fc.array(fc.string({ maxLength: 8 }), { maxLength: 3 }), learners: fc.array(fc.string({ maxLength: 8 }), { maxLength: 2 }) }) }), data: fc.uint8Array({ maxLength: 64 }) }))
}).map(m => {
  const out: Message = { type: m.type, from: 'A', to: 'B', term: m.term }
  for (const k of ['index', 'logTerm', 'commit', 'entries', 'reject', 'rejectHint', 'context', 'snapshot'] as const) if (m[k] !== undefined) (out as unknown as Record<string, unknown>)[k] = m[k]
  return out
})

describe('raft wire codec', () => {
  it('round-trips any batch of messages; from/to come from the connection, not the bytes', () => {
    fc.assert(fc.property(fc.array(message, { maxLength: 5 }), ms => {
      const d = decodeFrame(encodeMessagesFrame(ms), 'A', 'B')
      expect(d).toEqual({ kind: 'messages', messages: ms })
      // Whoever the connection says sent it, that is `from`.
      const other = decodeFrame(encodeMessagesFrame(ms), 'C', 'B')
      if (other.kind === 'messages') for (const m of other.messages) expect(m.from).toBe('C')
    }), fcParams(200, 'wire round trip'))
  })

  it('decoder fuzz: raft wire frame — arbitrary, mutated and truncated frames give a DecodeError, never another exception', () => {
    const tally = outcomeTally('raft wire frame')
    fc.assert(fc.property(fc.array(message, { minLength: 1, maxLength: 3 }), fc.array(fc.record({ at: fc.nat(), b: fc.integer({ min: 0, max: 255 }) }), { maxLength: 4 }), fc.nat(), fc.uint8Array({ maxLength: 200 }), (ms, muts, cut, noise) => {
      const good = encodeMessagesFrame(ms)
      const bad = good.slice()
      for (const m of muts) bad[m.at % bad.byteLength] = m.b
      for (const input of [bad, good.subarray(0, cut % good.byteLength), noise, encodeChunkFrame(1, 0, true, noise)]) {
        tally.add(typedOutcome('decodeFrame', ['DecodeError'], () => decodeFrame(input, 'A', 'B')))
      }
    }), fcParams(500, 'wire decoder fuzz'))
    tally.print()
  })

  it('refuses other versions and oversized counts with a message naming the problem', () => {
    const f = encodeMessagesFrame([{ type: 'heartbeat', from: 'A', to: 'B', term: 1 }])
    f[0] = 2
    expect(() => decodeFrame(f, 'A', 'B')).toThrow(/unsupported wire version 2/)
    expect(() => decodeFrame(new Uint8Array([1, 1, 0xff, 0xff, 0x7f]), 'A', 'B')).toThrow(/messages in one frame exceed/)
  })
})
