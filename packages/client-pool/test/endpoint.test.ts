import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { Endpoint } from '../src/endpoint.js'

const NUM_RUNS = Number(process.env.FC_NUM_RUNS ?? 100)

function endpoint (maxConcurrent: number, maxQueue: number): Endpoint {
  return new Endpoint({ id: 'e', connect: () => { throw new Error('unused') } }, {
    breaker: undefined,
    bulkhead: { maxConcurrent, maxQueue },
    ewmaDecayMs: 10_000,
    ewmaMinSampleWeight: 0.1,
    now: () => 0,
  })
}

describe('Endpoint bulkhead', () => {
  it('matches a FIFO semaphore model under random acquire / release / abort (property)', async () => {
    await fc.assert(fc.asyncProperty(
      fc.integer({ min: 1, max: 4 }),
      fc.integer({ min: 0, max: 4 }),
      fc.array(fc.constantFrom('acquire', 'release', 'abort'), { maxLength: 60 }),
      async (max, maxQueue, ops) => {
        const ep = endpoint(max, maxQueue)
        let running = 0
        const queue: number[] = []               // model: ids waiting, in order
        const granted: number[] = []             // order in which queued waiters got a slot
        const expectedGrants: number[] = []
        const controllers = new Map<number, AbortController>()
        let id = 0
        for (const op of ops) {
          if (op === 'acquire') {
            const me = id++
            const controller = new AbortController()
            controllers.set(me, controller)
            if (running < max) {
              expect(ep.tryAcquire()).toBe(true)
              running++
            } else if (queue.length < maxQueue) {
              expect(ep.tryAcquire()).toBe(false)
              queue.push(me)
              ep.acquire(controller.signal).then(() => { granted.push(me) }, () => {})
            } else {
              await expect(ep.acquire(controller.signal)).rejects.toThrow(/already runs/)
            }
          } else if (op === 'release' && running > 0) {
            ep.release()
            const next = queue.shift()
            if (next === undefined) running--
            else expectedGrants.push(next)
          } else if (op === 'abort' && queue.length > 0) {
            const victim = queue.pop()!
            controllers.get(victim)!.abort(new Error('abort'))
          }
          await Promise.resolve()
          expect(ep.running).toBe(running)
          expect(ep.unavailable(false) === 'bulkhead full').toBe(running >= max && queue.length >= maxQueue)
        }
        await new Promise((resolve) => setImmediate(resolve))
        expect(granted).toEqual(expectedGrants)
      }), { numRuns: NUM_RUNS })
  })
})
