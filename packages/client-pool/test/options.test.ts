import { describe, expect, it } from 'vitest'
import { createClientPool, DuplicateEndpointError, InvalidParametersError, UnknownEndpointError } from '../src/index.js'
import type { ClientPoolInit } from '../src/index.js'

const connect = (): never => { throw new Error('not used') }

describe('options are checked up front', () => {
  const bad: Array<[string, ClientPoolInit, RegExp]> = [
    ['balancer name', { balancer: 'fastest' as 'peak-ewma' }, /option balancer is "fastest": expected one of peak-ewma, least-request/],
    ['balancer object', { balancer: {} as never }, /option balancer is \{\}/],
    ['negative timeout', { requestTimeoutMs: -1 }, /option requestTimeoutMs is -1: expected a number > 0/],
    ['fractional attempts', { retry: { maxAttempts: 2.5 } }, /option retry.maxAttempts is 2.5: expected a whole number/],
    ['idempotency', { retry: { idempotency: 'always' as 'never' } }, /retry.idempotency is "always"/],
    ['health interval', { healthCheck: { intervalMs: 0 } }, /healthCheck.intervalMs is 0/],
    ['ejected percent', { outlierDetection: { maxEjectedPercent: 150 } }, /maxEjectedPercent is 150: expected a percentage/],
    ['tool timeout', { toolTimeoutsMs: { search: Number.NaN } }, /toolTimeoutsMs.search is NaN/],
    ['bulkhead', { bulkhead: { maxConcurrentPerEndpoint: 0 } }, /bulkhead.maxConcurrentPerEndpoint is 0/],
    ['endpoint id', { endpoints: [{ id: '', connect }] }, /option endpoint.id is "": expected a non-empty string/],
    ['endpoint connect', { endpoints: [{ id: 'a', connect: 'tcp://x' as never }] }, /endpoint a connect is "tcp:\/\/x": expected a function/],
    ['endpoint weight', { endpoints: [{ id: 'a', connect, weight: 0 }] }, /endpoint a weight is 0/],
  ]
  for (const [what, init, message] of bad) {
    it(`rejects a bad ${what} with InvalidParametersError`, () => {
      let err: unknown
      try { createClientPool(init) } catch (e) { err = e }
      expect(err).toBeInstanceOf(InvalidParametersError)
      expect((err as InvalidParametersError).code).toBe('ERR_INVALID_PARAMETERS')
      expect((err as Error).message).toMatch(message)
    })
  }

  it('rejects duplicate and unknown endpoint ids', async () => {
    const pool = createClientPool({ endpoints: [{ id: 'a', connect }], healthCheck: false })
    expect(() => { pool.add({ id: 'a', connect }) }).toThrow(DuplicateEndpointError)
    await expect(pool.drain('zz')).rejects.toThrow(UnknownEndpointError)
    await expect(pool.drain('zz')).rejects.toThrow(/no endpoint "zz" in the pool \(endpoints: a\)/)
    await expect(pool.callTool({ name: 'x' }, { endpoint: 'zz' })).rejects.toThrow(UnknownEndpointError)
    await pool.close()
  })

  it('fails a call with a clear error when the pool has no endpoints', async () => {
    const pool = createClientPool({ healthCheck: false })
    await expect(pool.callTool({ name: 'x' })).rejects.toThrow(/no endpoint can take tools\/call \(the pool has no endpoints; add\(\) some\)/)
    await pool.close()
    await pool.close()
  })
})
