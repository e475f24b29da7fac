import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { RaftCore } from '../src/core/raft-core.js'
import { RaftProtocolError } from '../src/errors.js'
import { MemoryStorage } from '../src/storage/memory-storage.js'
import type { Message, MessageType } from '../src/types.js'

const TYPES: MessageType[] = ['app', 'appResp', 'vote', 'voteResp', 'preVote', 'preVoteResp', 'heartbeat', 'heartbeatResp', 'snap', 'prop', 'readIndex', 'readIndexResp', 'transferLeader', 'timeoutNow']
const peer = fc.constantFrom('n2', 'n3', 'x')
const entry = fc.record({ index: fc.nat(40), term: fc.nat(8), type: fc.constant('normal' as const), data: fc.uint8Array({ maxLength: 4 }) })
const message: fc.Arbitrary<Message> = fc.record({
  type: fc.constantFrom(...TYPES),
  from: peer,
  to: fc.constant('n1'),
  term: fc.nat(8),
  index: fc.option(fc.nat(40), { nil: undefined }),
  logTerm: fc.option(fc.nat(8), { nil: undefined }),
  commit: fc.option(fc.nat(40), { nil: undefined }),
  entries: fc.option(fc.array(entry, { maxLength: 4 }), { nil: undefined }),
  reject: fc.option(fc.boolean(), { nil: undefined }),
  rejectHint: fc.option(fc.nat(40), { nil: undefined }),
  context: fc.option(fc.constantFrom('n2', 'n3', 'transfer', 'r1'), { nil: undefined })
})

describe('core under arbitrary peer messages', () => {
  it('never throws anything but RaftProtocolError and keeps commit within the log', () => {
    fc.assert(fc.property(fc.array(fc.oneof(message, fc.constant('tick' as const), fc.constant('ready' as const)), { maxLength: 80 }), steps => {
      const store = new MemoryStorage({ voters: ['n1', 'n2', 'n3'] })
      const core = new RaftCore({ id: 'n1', storage: store })
      for (const s of steps) {
        try {
          if (s === 'tick') core.tick()
          else if (s === 'ready') {
            if (core.hasReady()) {
              const rd = core.ready()
              store.write(rd)
              core.advance()
            }
          } else core.step(s)
        } catch (err) {
          if (!(err instanceof RaftProtocolError)) throw err
        }
        expect(core.log.committed).toBeLessThanOrEqual(core.log.lastIndex())
        expect(core.log.applied).toBeLessThanOrEqual(core.log.committed)
      }
    }), { numRuns: Number(process.env.FC_NUM_RUNS ?? 300) })
  })

  it('rejects an append whose entries do not follow prevIndex (fuzz counterexample: a gap reached storage)', () => {
    const store = new MemoryStorage({ voters: ['n1', 'n2', 'n3'] })
    const core = new RaftCore({ id: 'n1', storage: store })
    const gap: Message = { type: 'app', from: 'n2', to: 'n1', term: 0, entries: [{ index: 2, term: 0, type: 'normal', data: new Uint8Array() }] }
    expect(() => { core.step(gap) }).toThrow(RaftProtocolError)
    const down: Message = { type: 'app', from: 'n2', to: 'n1', term: 3, index: 0, logTerm: 0, entries: [{ index: 1, term: 2, type: 'normal', data: new Uint8Array() }, { index: 2, term: 1, type: 'normal', data: new Uint8Array() }] }
    expect(() => { core.step(down) }).toThrow(/non-decreasing/)
    expect(core.log.lastIndex()).toBe(0)
    // A well-formed append is still taken.
    core.step({ type: 'app', from: 'n2', to: 'n1', term: 3, index: 0, logTerm: 0, entries: [{ index: 1, term: 3, type: 'normal', data: new Uint8Array() }] })
    expect(core.log.lastIndex()).toBe(1)
  })
})
