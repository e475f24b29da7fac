import { z } from 'zod'
import { firstIssue } from './codec-json.js'
import { MAX_CONTROL_FRAME_BYTES, MAX_REQUEST_ID_LENGTH } from './constants.js'
import { ControlDecodeError } from './errors.js'
import { errorMessage } from '../errors.js'

/**
 * Frames of `/p2p-mcp/control/1.0.0`: one request and one response per stream, each a
 * varint-length-prefixed UTF-8 JSON object with `v: 1`. Unknown fields are ignored (same major
 * version); a frame over MAX_CONTROL_FRAME_BYTES or that does not match is a ControlDecodeError.
 */

const peerId = z.string().min(1).max(128)
const cluster = z.string().min(1).max(64)

const QuerySchema = z.discriminatedUnion('what', [
  z.object({ what: z.literal('status') }),
  z.object({ what: z.literal('policy') }),
  z.object({ what: z.literal('members') }),
  z.object({ what: z.literal('snapshot') }),
  z.object({ what: z.literal('trust') }),
  z.object({ what: z.literal('kv'), ns: z.string().min(1).max(64), key: z.string().min(1).max(512) }),
  z.object({ what: z.literal('kvList'), ns: z.string().min(1).max(64), prefix: z.string().max(512).default('') }),
])
export type ControlQuery = z.input<typeof QuerySchema>

export const ControlRequestSchema = z.discriminatedUnion('type', [
  z.object({
    v: z.literal(1), type: z.literal('join'), cluster: cluster.nullable(), peerId,
    voterEligible: z.boolean(), addrs: z.array(z.string().max(512)).max(16).default([]),
  }),
  z.object({
    v: z.literal(1), type: z.literal('propose'), cluster,
    id: z.string().min(1).max(MAX_REQUEST_ID_LENGTH), module: z.string().min(1).max(64), cv: z.number().int().min(1), cmd: z.unknown(),
  }),
  z.object({ v: z.literal(1), type: z.literal('read'), cluster, linearizable: z.boolean(), query: QuerySchema }),
])
export type ControlRequest = z.input<typeof ControlRequestSchema>

const ErrorFrame = z.object({ v: z.literal(1), type: z.literal('error'), name: z.string().max(128), code: z.string().max(128), message: z.string().max(8192), cluster: cluster.optional() })

export const ControlResponseSchema = z.discriminatedUnion('type', [
  z.object({
    v: z.literal(1), type: z.literal('joined'), cluster, leader: z.string().max(128),
    voters: z.array(peerId).max(1024), learners: z.array(peerId).max(1024),
  }),
  z.object({ v: z.literal(1), type: z.literal('noCluster') }),
  z.object({ v: z.literal(1), type: z.literal('result'), cluster, result: z.unknown() }),
  z.object({ v: z.literal(1), type: z.literal('state'), cluster, index: z.number().int().min(0), value: z.unknown() }),
  ErrorFrame,
])
export type ControlResponse = z.input<typeof ControlResponseSchema>
export type ControlErrorFrame = z.input<typeof ErrorFrame>

const encoder = new TextEncoder()
const decoder = new TextDecoder('utf-8', { fatal: true })

export function encodeFrame (frame: ControlRequest | ControlResponse): Uint8Array {
  const bytes = encoder.encode(JSON.stringify(frame))
  if (bytes.byteLength > MAX_CONTROL_FRAME_BYTES) throw new ControlDecodeError(`control frame of ${bytes.byteLength} bytes exceeds ${MAX_CONTROL_FRAME_BYTES}; make the command smaller`)
  return bytes
}

function decode<T> (bytes: Uint8Array, schema: z.ZodType<T>, what: string): T {
  if (bytes.byteLength > MAX_CONTROL_FRAME_BYTES) throw new ControlDecodeError(`${what} of ${bytes.byteLength} bytes exceeds ${MAX_CONTROL_FRAME_BYTES}`)
  let value: unknown
  try {
    value = JSON.parse(decoder.decode(bytes))
  } catch (err) {
    throw new ControlDecodeError(`${what} is not UTF-8 JSON: ${errorMessage(err)}`, { cause: err })
  }
  if (typeof value === 'object' && value !== null && 'v' in value && typeof value.v === 'number' && value.v > 1) {
    throw new ControlDecodeError(`${what} has version ${value.v}; this peer speaks version 1 of /p2p-mcp/control (upgrade it)`)
  }
  const parsed = schema.safeParse(value)
  if (!parsed.success) throw new ControlDecodeError(`${what} is malformed: ${firstIssue(parsed.error)}`)
  return parsed.data
}

export function decodeRequest (bytes: Uint8Array): z.output<typeof ControlRequestSchema> {
  return decode(bytes, ControlRequestSchema, 'control request')
}

export function decodeResponse (bytes: Uint8Array): z.output<typeof ControlResponseSchema> {
  return decode(bytes, ControlResponseSchema, 'control response')
}
