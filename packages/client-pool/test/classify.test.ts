import { McpError } from '@modelcontextprotocol/sdk/types.js'
import { FrameTooLargeError } from '@p2p-mcp/transport'
import { describe, expect, it } from 'vitest'
import { classify, isReplicaFailure } from '../src/classify.js'
import { InvalidParametersError } from '../src/errors.js'

function stackOverflow (): unknown {
  let v: Record<string, unknown> = {}
  for (let i = 0; i < 1_000_000; i++) v = { a: v }
  try { JSON.stringify(v) } catch (err) { return err }
  throw new Error('JSON.stringify did not overflow')
}

describe('classify (issue 17, item 1)', () => {
  it('errors raised while encoding or sending the request in this process are the caller\'s, never a replica failure', () => {
    for (const err of [new FrameTooLargeError(5_000_000, 4_194_304, 'sent'), stackOverflow(), new InvalidParametersError('uri', 5, 'a URI')]) {
      expect(classify(err)).toBe('caller')
      expect(isReplicaFailure(err)).toBe(false)
    }
  })

  it('a frame received too large, a server error and an unknown error still count against the replica', () => {
    expect(classify(new FrameTooLargeError(5_000_000, 4_194_304, 'received'))).toBe('replica')
    expect(classify(new McpError(-32603, 'boom'))).toBe('replica')
    expect(classify(new Error('connection reset'))).toBe('replica')
    expect(classify(new RangeError('offset out of range'))).toBe('replica')
    expect(classify(new McpError(-32602, 'bad params'))).toBe('caller')
  })

  it("a refusal by the replica's policy (-32003) is the caller's, not the replica's fault", () => {
    expect(classify(new McpError(-32003, 'tool "calc__add" is not allowed for principal "token:bob"'))).toBe('caller')
    expect(isReplicaFailure(new McpError(-32003, 'denied'))).toBe(false)
  })
})
