import { randomUUID } from 'node:crypto'
import * as dagCbor from '@ipld/dag-cbor'
import { peerIdFromString } from '@libp2p/peer-id'
import { z } from 'zod'
import { DEFAULT_MAX_EVENT_BYTES, EVENT_FORMAT_VERSION, MAX_CAUSALITY_ENTRIES, MAX_TOPIC_LENGTH } from './constants.js'
import { EventTooLargeError, InvalidMeshEventError } from './errors.js'
import { errorMessage } from '../errors.js'

const Json: z.ZodType<unknown> = z.json()
/** A dotted topic: at most 16 segments of [a-z0-9_-]. */
const TOPIC = /^[a-z0-9_-]{1,64}(?:\.[a-z0-9_-]{1,64}){0,15}$/

/**
 * The seed-000 event, as it travels: flat (the seed's `event_metadata` fields at the top),
 * with `v` the format's major version and `sig` the producing peer's signature over the
 * dag-cbor encoding of every other field, unknown ones included (dag-cbor is deterministic, so
 * a reader re-encodes what it decoded). Readers ignore unknown fields of the same major version.
 */
export const MeshEventSchema = z.object({
  v: z.literal(EVENT_FORMAT_VERSION),
  event_id: z.string().min(1).max(128),
  event_type: z.string().max(MAX_TOPIC_LENGTH).regex(TOPIC, 'a dotted topic of lower-case segments ([a-z0-9_-]), at most 16 segments and 200 characters'),
  event_version: z.string().regex(/^\d+\.\d+\.\d+$/, 'a semantic version such as 1.0.0'),
  source: z.string().min(1).max(128),
  timestamp: z.iso.datetime(),
  sequence_number: z.number().int().nonnegative(),
  correlation_id: z.string().max(256).optional(),
  causality_vector: z.record(z.string().max(128), z.number().int().nonnegative())
    .refine((v) => Object.keys(v).length <= MAX_CAUSALITY_ENTRIES, `at most ${MAX_CAUSALITY_ENTRIES} entries`),
  event_data: Json,
  processing_hints: z.object({
    priority: z.enum(['low', 'normal', 'high', 'critical']).default('normal'),
    delivery_guarantee: z.enum(['at_most_once', 'at_least_once']).default('at_least_once'),
    retention_period: z.string().regex(/^\d+[smhd]$/, 'a duration such as 7d, 12h, 30m').optional(),
  }).default({ priority: 'normal', delivery_guarantee: 'at_least_once' }),
})

/** A checked event (without its signature). */
export type MeshEvent = z.infer<typeof MeshEventSchema>

/** What a producer gives; the bus fills in the rest. */
export interface EventInput {
  event_type: string
  event_data?: unknown
  event_version?: string
  correlation_id?: string
  processing_hints?: Partial<MeshEvent['processing_hints']>
}

/** The JSON Schema of an event (shipped as `schemas/mesh-event.schema.json`). */
export function meshEventJsonSchema (): Record<string, unknown> {
  const schema = z.toJSONSchema(MeshEventSchema.extend({ sig: z.string().describe('the signature, base64 in JSON renderings; bytes on the wire') }), { io: 'input' })
  return { $id: 'https://p2p-mcp.dev/schemas/mesh-event-1.json', title: 'p2p-mcp mesh event, format 1', ...schema }
}

/** Signs with the peer's libp2p key. */
export type Signer = (data: Uint8Array) => Promise<Uint8Array> | Uint8Array

/** Builds, checks and signs an event; returns the signed map that goes into a clock block. */
export async function signEvent (input: EventInput, meta: { source: string, sequence: number, causality: Record<string, number>, now: Date },
  options: { sign: Signer, maxEventBytes?: number }): Promise<{ event: MeshEvent, signed: Record<string, unknown> }> {
  const candidate = {
    v: EVENT_FORMAT_VERSION,
    event_id: `evt-${randomUUID()}`,
    event_type: input.event_type,
    event_version: input.event_version ?? '1.0.0',
    source: meta.source,
    timestamp: meta.now.toISOString(),
    sequence_number: meta.sequence,
    ...(input.correlation_id === undefined ? {} : { correlation_id: input.correlation_id }),
    causality_vector: meta.causality,
    event_data: input.event_data ?? null,
    processing_hints: { priority: 'normal', delivery_guarantee: 'at_least_once', ...input.processing_hints },
  }
  const parsed = MeshEventSchema.safeParse(candidate)
  if (!parsed.success) throw new InvalidMeshEventError(z.prettifyError(parsed.error))
  const unsigned = stripUndefined(parsed.data)
  const bytes = encodeOrThrow(unsigned)
  const max = options.maxEventBytes ?? DEFAULT_MAX_EVENT_BYTES
  if (bytes.length + 80 > max) throw new EventTooLargeError(bytes.length + 80, max)
  const sig = await options.sign(bytes)
  return { event: parsed.data, signed: { ...unsigned, sig } }
}

/**
 * Checks a signed event map taken from a block: signature by `source`'s key over the other
 * fields (unknown ones included), then the schema (unknown fields dropped). Throws
 * `InvalidMeshEventError`, nothing else.
 */
export async function openEvent (value: unknown, options?: { maxEventBytes?: number }): Promise<MeshEvent> {
  if (typeof value !== 'object' || value === null || Array.isArray(value) || value instanceof Uint8Array) throw new InvalidMeshEventError('the payload is not a map')
  const { sig, ...rest } = value as Record<string, unknown>
  if (rest.v !== EVENT_FORMAT_VERSION) {
    // String() of a decoded map whose toString is data (`{ toString: 0 }`) throws: name only what is safe to show.
    const shown = typeof rest.v === 'object' && rest.v !== null ? 'a map' : String(rest.v)
    throw new InvalidMeshEventError(`format version ${shown} is not ${EVENT_FORMAT_VERSION} (a newer major version travels on another topic)`)
  }
  if (!(sig instanceof Uint8Array) || sig.length > 512) throw new InvalidMeshEventError('sig is not a byte string of at most 512 bytes')
  const parsed = MeshEventSchema.safeParse(rest)
  if (!parsed.success) throw new InvalidMeshEventError(z.prettifyError(parsed.error))
  const bytes = encodeOrThrow(rest)
  const max = options?.maxEventBytes ?? DEFAULT_MAX_EVENT_BYTES
  if (bytes.length + sig.length > max) throw new InvalidMeshEventError(`${bytes.length + sig.length} bytes, over maxEventBytes ${max}`)
  let ok: boolean
  try {
    const key = peerIdFromString(parsed.data.source).publicKey
    if (key === undefined) throw new Error('the peer id does not embed its public key')
    ok = await key.verify(bytes, sig)
  } catch (err) {
    throw new InvalidMeshEventError(`source ${parsed.data.source} is not a peer id with an inline public key (${errorMessage(err)})`, { cause: err })
  }
  if (!ok) throw new InvalidMeshEventError(`the signature does not verify against source ${parsed.data.source}`)
  return parsed.data
}

function encodeOrThrow (value: unknown): Uint8Array {
  try {
    return dagCbor.encode(value)
  } catch (err) {
    throw new InvalidMeshEventError(`event_data cannot be encoded (${errorMessage(err)}); use JSON data`, { cause: err })
  }
}

/** dag-cbor refuses `undefined`; optional fields that are absent must be absent. */
function stripUndefined<T extends Record<string, unknown>> (value: T): T {
  const out: Record<string, unknown> = {}
  for (const [k, v] of Object.entries(value)) {
    if (v === undefined) continue
    out[k] = typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof Uint8Array) && k !== 'event_data' && k !== 'causality_vector'
      ? stripUndefined(v as Record<string, unknown>)
      : v
  }
  return out as T
}
