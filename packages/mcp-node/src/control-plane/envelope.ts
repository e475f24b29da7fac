import { ENVELOPE_VERSION, MAX_ENVELOPE_BYTES, MAX_REQUEST_ID_LENGTH } from './constants.js'
import { ControlDecodeError } from './errors.js'
import type { Envelope } from './types.js'
import { errorMessage } from '../errors.js'

const encoder = new TextEncoder()
const decoder = new TextDecoder('utf-8', { fatal: true })
const MODULE_NAME = /^\$?[a-z][a-z0-9_-]{0,63}$/

/** Serialises an envelope (JSON, UTF-8). */
export function encodeEnvelope (e: Envelope): Uint8Array {
  return encoder.encode(JSON.stringify(e))
}

/**
 * Parses an entry's data. Throws ControlDecodeError on anything that is not an envelope;
 * a well-formed envelope of a newer version is returned as is (the state machine halts on it).
 */
export function decodeEnvelope (data: Uint8Array): Envelope {
  if (data.byteLength > MAX_ENVELOPE_BYTES) throw new ControlDecodeError(`log entry of ${data.byteLength} bytes exceeds ${MAX_ENVELOPE_BYTES}`)
  let value: unknown
  try {
    value = JSON.parse(decoder.decode(data))
  } catch (err) {
    throw new ControlDecodeError(`log entry is not UTF-8 JSON: ${errorMessage(err)}`, { cause: err })
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new ControlDecodeError('log entry is not a JSON object')
  const o = value as Record<string, unknown>
  if (!Number.isSafeInteger(o.v) || (o.v as number) < 1) throw new ControlDecodeError(`envelope version ${JSON.stringify(o.v)} is not a positive integer`)
  if ((o.v as number) > ENVELOPE_VERSION) return { v: o.v as number, id: typeof o.id === 'string' ? o.id : '', module: typeof o.module === 'string' ? o.module : '', cv: 0, at: 0, cmd: null }
  if (typeof o.id !== 'string' || o.id.length === 0 || o.id.length > MAX_REQUEST_ID_LENGTH) throw new ControlDecodeError(`request id ${JSON.stringify(o.id)} is not a string of 1 to ${MAX_REQUEST_ID_LENGTH} characters`)
  if (typeof o.module !== 'string' || !MODULE_NAME.test(o.module)) throw new ControlDecodeError(`module ${JSON.stringify(o.module)} is not a module name`)
  if (!Number.isSafeInteger(o.cv) || (o.cv as number) < 1) throw new ControlDecodeError(`command version ${JSON.stringify(o.cv)} is not a positive integer`)
  if (!Number.isSafeInteger(o.at) || (o.at as number) < 0) throw new ControlDecodeError(`timestamp ${JSON.stringify(o.at)} is not a non-negative integer`)
  return { v: o.v as number, id: o.id, module: o.module, cv: o.cv as number, at: o.at as number, cmd: o.cmd ?? null }
}
