import { ErrorCode } from '@modelcontextprotocol/sdk/types.js'
import { CallFailedError, ReplicaStalledError } from '@p2p-mcp/client-pool'
import { describe, expect, it } from 'vitest'
import { mcpErrorOf } from '../src/wire-errors.js'

describe('mcpErrorOf', () => {
  it('a call abandoned on a stalled replica is -32603 with data.outcome "unknown"', () => {
    const err = mcpErrorOf(new CallFailedError('tools/call', 'peer-b', 1, 'outcome-unknown', false, new ReplicaStalledError('peer-b', 2100)))
    expect(err.code).toBe(ErrorCode.InternalError)
    expect(err.data).toEqual({ outcome: 'unknown' })
    expect(err.message).toContain('outcome unknown')
  })

  it('other failed calls keep their plain -32603', () => {
    const err = mcpErrorOf(new CallFailedError('tools/call', 'peer-b', 1, 'not-idempotent', false, new Error('connection reset')))
    expect(err.code).toBe(ErrorCode.InternalError)
    expect(err.data).toBeUndefined()
  })
})
