// The per-session SSE event store against a model: it keeps exactly the last `max` events, and
// replay after an event sends the later events of that event's stream, in order.
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { memoryEventStore } from '../src/node/event-store.js'

const numRuns = Number(process.env.FC_NUM_RUNS ?? 150)
const seed = process.env.FC_SEED === undefined ? Date.now() % 2 ** 31 : Number(process.env.FC_SEED)

describe('memoryEventStore', () => {
  it('keeps the last max events and replays a stream in order after any held event', async () => {
    console.log(`event-store property: FC_SEED=${seed}`)
    await fc.assert(fc.asyncProperty(
      fc.integer({ min: 1, max: 8 }),
      fc.array(fc.constantFrom('s1', 's2', 's3'), { maxLength: 40 }),
      fc.nat(),
      async (max, streams, pick) => {
        const store = memoryEventStore(max)
        const model: Array<{ id: string, stream: string, n: number }> = []
        for (const [n, stream] of streams.entries()) {
          const id = await store.storeEvent(stream, { jsonrpc: '2.0', method: 'm', params: { n } })
          model.push({ id, stream, n })
        }
        const held = model.slice(-max)
        expect(store.size).toBe(held.length)
        for (const dropped of model.slice(0, model.length - held.length)) {
          await expect(store.replayEventsAfter(dropped.id, { send: async () => {} })).rejects.toThrow(/not held/)
        }
        if (held.length === 0) return
        const from = held[pick % held.length]!
        const sent: number[] = []
        const stream = await store.replayEventsAfter(from.id, { send: (_id, m) => { sent.push((m as unknown as { params: { n: number } }).params.n); return Promise.resolve() } })
        expect(stream).toBe(from.stream)
        expect(sent).toEqual(held.filter((e) => e.stream === from.stream && e.n > from.n).map((e) => e.n))
        expect(await store.getStreamIdForEventId!(from.id)).toBe(from.stream)
      },
    ), { numRuns, seed })
  })

  it('refuses a bound that is not a positive integer', () => {
    expect(() => memoryEventStore(0)).toThrow(/maxReplayEvents/)
    expect(() => memoryEventStore(1.5)).toThrow(/maxReplayEvents/)
  })
})
