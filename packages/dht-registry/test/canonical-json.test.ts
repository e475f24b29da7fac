import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { canonicalJson, CanonicalJsonError, schemaHash } from '../src/index.js'

const numRuns = Number(process.env.FC_NUM_RUNS ?? 200)

function double (hex: string): number {
  const view = new DataView(new ArrayBuffer(8))
  view.setBigUint64(0, BigInt(`0x${hex}`))
  return view.getFloat64(0)
}

describe('canonicalJson (RFC 8785)', () => {
  it('writes the example of RFC 8785 §3.2.2', () => {
    const input = JSON.parse('{"numbers": [333333333.33333329, 1E30, 4.50, 2e-3, 0.000000000000000000000000001],' +
      '"string": "\\u20ac$\\u000F\\u000aA\'\\u0042\\u0022\\u005c\\\\\\"\\/", "literals": [null, true, false]}') as unknown
    expect(canonicalJson(input)).toBe('{"literals":[null,true,false],"numbers":[333333333.3333333,1e+30,4.5,0.002,1e-27],' +
      '"string":"€$\\u000f\\nA\'B\\"\\\\\\\\\\"/"}')
  })

  it('sorts keys by UTF-16 code units (RFC 8785 §3.2.3)', () => {
    const input = JSON.parse('{"\\u20ac": "Euro Sign", "\\r": "Carriage Return", "\\ufb33": "Hebrew Letter Dalet With Dagesh",' +
      '"1": "One", "\\ud83d\\ude00": "Emoji: Grinning Face", "\\u0080": "Control", "\\u00f6": "Latin Small Letter O With Diaeresis"}') as unknown
    expect(canonicalJson(input)).toBe('{"\\r":"Carriage Return","1":"One","\u0080":"Control","ö":"Latin Small Letter O With Diaeresis",' +
      '"€":"Euro Sign","😀":"Emoji: Grinning Face","\ufb33":"Hebrew Letter Dalet With Dagesh"}')
  })

  it.each([
    ['0000000000000000', '0'],
    ['8000000000000000', '0'],
    ['0000000000000001', '5e-324'],
    ['8000000000000001', '-5e-324'],
    ['7fefffffffffffff', '1.7976931348623157e+308'],
    ['ffefffffffffffff', '-1.7976931348623157e+308'],
    ['4340000000000000', '9007199254740992'],
    ['c340000000000000', '-9007199254740992'],
    ['4430000000000000', '295147905179352830000'],
    ['44b52d02c7e14af5', '9.999999999999997e+22'],
    ['44b52d02c7e14af6', '1e+23'],
    ['44b52d02c7e14af7', '1.0000000000000001e+23'],
    ['444b1ae4d6e2ef4e', '999999999999999700000'],
    ['444b1ae4d6e2ef50', '1e+21'],
    ['3eb0c6f7a0b5ed8c', '9.999999999999997e-7'],
    ['3eb0c6f7a0b5ed8d', '0.000001'],
    ['41b3de4355555553', '333333333.3333332'],
  ])('writes the IEEE 754 double 0x%s as %s (RFC 8785 Appendix B)', (hex, text) => {
    expect(canonicalJson(double(hex))).toBe(text)
  })

  it.each([
    ['NaN', Number.NaN],
    ['Infinity', Number.POSITIVE_INFINITY],
    ['a lone surrogate', '\ud800'],
    ['a BigInt', 1n],
  ])('refuses %s with CanonicalJsonError', (_what, value) => {
    expect(() => canonicalJson({ value })).toThrow(CanonicalJsonError)
  })

  it('refuses cycles', () => {
    const cyclic: Record<string, unknown> = {}
    cyclic.self = cyclic
    expect(() => canonicalJson(cyclic)).toThrowError(expect.objectContaining({ name: 'CanonicalJsonError' }) as Error)
  })

  it('does not depend on key order, and parses back to the same value', () => {
    fc.assert(fc.property(fc.jsonValue(), (value) => {
      const text = canonicalJson(value)
      const reordered = JSON.parse(JSON.stringify(value, (_k, v: unknown) => {
        if (v === null || typeof v !== 'object' || Array.isArray(v)) return v
        return Object.fromEntries(Object.entries(v).reverse())
      })) as unknown
      expect(canonicalJson(reordered)).toBe(text)
      expect(canonicalJson(JSON.parse(text))).toBe(text)
    }), { numRuns })
  })
})

describe('schemaHash', () => {
  it('is the sha256 of the canonical JSON, independent of key order and number spelling', async () => {
    const a = await schemaHash({ type: 'object', properties: { path: { type: 'string' }, n: { type: 'number', maximum: 10 } }, required: ['path'] })
    const b = await schemaHash(JSON.parse('{"required":["path"],"properties":{"n":{"maximum":1e1,"type":"number"},"path":{"type":"string"}},"type":"object"}'))
    expect(a).toBe(b)
    expect(a).toMatch(/^[0-9a-f]{64}$/)
    // sha256('{}'), computed independently
    expect(await schemaHash({})).toBe('44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a')
  })

  it('differs when the schema differs', async () => {
    await fc.assert(fc.asyncProperty(fc.jsonValue(), fc.jsonValue(), async (x, y) => {
      fc.pre(canonicalJson(x) !== canonicalJson(y))
      expect(await schemaHash(x)).not.toBe(await schemaHash(y))
    }), { numRuns: Math.min(numRuns, 100) })
  })
})
