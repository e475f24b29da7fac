import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { decodeRequest, decodeResponse, encodeFrame } from '../../src/control-plane/control-codec.js'
import type { ControlRequest } from '../../src/control-plane/control-codec.js'
import { MAX_CONTROL_FRAME_BYTES } from '../../src/control-plane/constants.js'
import { decodeEnvelope, encodeEnvelope } from '../../src/control-plane/envelope.js'
import { fcParams } from './fc-params.js'

const enc = new TextEncoder()

describe('control protocol codec', () => {
  it('round-trips every request type', () => {
    const reqs: ControlRequest[] = [
      { v: 1, type: 'join', cluster: null, peerId: '12D3KooWabc', voterEligible: true, addrs: ['/ip4/127.0.0.1/tcp/1'] },
      { v: 1, type: 'propose', cluster: 'c1', id: 'r1', module: 'kv', cv: 1, cmd: { op: 'put', ns: 'a', key: 'b', value: [1, 2] } },
      { v: 1, type: 'read', cluster: 'c1', linearizable: true, query: { what: 'kv', ns: 'a', key: 'b' } },
    ]
    for (const r of reqs) expect(decodeRequest(encodeFrame(r))).toMatchObject(r)
  })

  it('never throws anything but ControlDecodeError on arbitrary bytes and JSON', () => {
    const json = fc.jsonValue().map((v) => enc.encode(JSON.stringify(v)))
    const nearly = fc.record({
      v: fc.oneof(fc.constant(1), fc.integer()), type: fc.constantFrom('join', 'propose', 'read', 'joined', 'state', 'result', 'error', 'noCluster', 'x'),
      cluster: fc.oneof(fc.string(), fc.constant(null)), peerId: fc.string(), id: fc.string(), module: fc.string(), cv: fc.integer(),
      linearizable: fc.boolean(), query: fc.record({ what: fc.constantFrom('kv', 'status', 'policy', 'kvList', 'nope'), ns: fc.string(), key: fc.string() }),
      voterEligible: fc.boolean(), leader: fc.string(), voters: fc.array(fc.string()), learners: fc.array(fc.string()), index: fc.integer(),
    }, { requiredKeys: ['v', 'type'] }).map((v) => enc.encode(JSON.stringify(v)))
    fc.assert(fc.property(fc.oneof(fc.uint8Array({ maxLength: 200 }), json, nearly), (bytes) => {
      for (const decode of [decodeRequest, decodeResponse, decodeEnvelope]) {
        try { decode(bytes) } catch (err) { expect((err as Error).name).toBe('ControlDecodeError') }
      }
    }), fcParams('control codec fuzz', 2_000))
  })

  it('bounds frames and names newer versions', () => {
    expect(() => decodeRequest(new Uint8Array(MAX_CONTROL_FRAME_BYTES + 1))).toThrow(/exceeds/)
    expect(() => decodeRequest(enc.encode(JSON.stringify({ v: 2, type: 'join' })))).toThrow(/version 2.*upgrade/)
    expect(() => decodeRequest(enc.encode(JSON.stringify({ v: 1, type: 'read', cluster: 'c', linearizable: true, query: { what: 'kv', ns: '', key: 'k' } })))).toThrow(/query\.ns/)
    expect(() => encodeFrame({ v: 1, type: 'propose', cluster: 'c', id: 'i', module: 'kv', cv: 1, cmd: 'x'.repeat(MAX_CONTROL_FRAME_BYTES) })).toThrow(/exceeds/)
  })

  it('envelopes round-trip; a newer envelope version decodes for the halt', () => {
    const e = { v: 1, id: 'a', module: 'kv', cv: 1, at: 5, cmd: { x: 1 } }
    expect(decodeEnvelope(encodeEnvelope(e))).toEqual(e)
    expect(decodeEnvelope(enc.encode(JSON.stringify({ v: 9, id: 'a', module: 'future' }))).v).toBe(9)
  })
})
