import type { EventStore } from '@modelcontextprotocol/sdk/server/streamableHttp.js'
import type { JSONRPCMessage } from '@modelcontextprotocol/sdk/types.js'
import { intOption } from '../options.js'

/** Events kept per HTTP session for SSE resumption by default. */
export const DEFAULT_MAX_REPLAY_EVENTS = 1024

/** A bounded event store, one per session: replays what a client missed after `Last-Event-ID`. */
export interface MemoryEventStore extends EventStore {
  /** Events held right now (at most `maxEvents`). */
  readonly size: number
  /** Forgets every event (the session closed). */
  clear: () => void
}

/**
 * The SDK's `EventStore` in memory, holding the last `maxEvents` events of all of a session's
 * streams. Event ids are `<streamId>_<sequence>`; a client resuming after an event that was
 * already dropped gets an error from the SDK and must reconnect without `Last-Event-ID`
 * (the events it missed are lost; the bound keeps a slow client from growing memory forever).
 */
export function memoryEventStore (maxEvents: number = DEFAULT_MAX_REPLAY_EVENTS): MemoryEventStore {
  const max = intOption('maxReplayEvents', maxEvents, DEFAULT_MAX_REPLAY_EVENTS, 1)
  // Insertion order is event order: a Map iterates in it and drops the oldest first.
  const events = new Map<string, { stream: string, message: JSONRPCMessage }>()
  let sequence = 0
  return {
    get size () { return events.size },
    clear () { events.clear() },
    storeEvent (stream, message) {
      const id = `${stream}_${++sequence}`
      events.set(id, { stream, message })
      if (events.size > max) events.delete(events.keys().next().value!)
      return Promise.resolve(id)
    },
    getStreamIdForEventId (id) { return Promise.resolve(events.get(id)?.stream) },
    async replayEventsAfter (lastEventId, { send }) {
      const stream = events.get(lastEventId)?.stream
      if (stream === undefined) throw new RangeError(`event ${lastEventId} is not held (older than the last ${max} events, or unknown): reconnect without Last-Event-ID`)
      let after = false
      for (const [id, e] of [...events]) {
        if (id === lastEventId) after = true
        else if (after && e.stream === stream) await send(id, e.message)
      }
      return stream
    },
  }
}
