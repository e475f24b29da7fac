import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { MAX_TOOL_NAME_LENGTH, meshName } from '../src/index.js'

const numRuns = Number(process.env.FC_NUM_RUNS ?? 300)

describe('meshName', () => {
  it('is <server>__<tool> for plain short names', () => {
    expect(meshName('calc', 'add')).toBe('calc__add')
    expect(meshName('notes', 'list_notes')).toBe('notes__list_notes')
  })

  it('hashes long names into 64 characters, deterministically', () => {
    const long = meshName('a-very-long-server-name-for-a-mesh', 'and_an_even_longer_tool_name_that_goes_on_and_on')
    expect(long.length).toBe(MAX_TOOL_NAME_LENGTH)
    expect(long).toMatch(/_[0-9a-f]{8}$/)
    expect(meshName('a-very-long-server-name-for-a-mesh', 'and_an_even_longer_tool_name_that_goes_on_and_on')).toBe(long)
  })

  it('never lets a server name with __ collide with a tool name with __', () => {
    expect(meshName('a__b', 'c')).not.toBe(meshName('a', 'b__c'))
    expect(meshName('a', 'b__c')).toBe('a__b__c')
  })

  it('always gives a valid MCP tool name of at most 64 characters, injective on random pairs', () => {
    const part = fc.string({ minLength: 1, maxLength: 80, unit: fc.constantFrom(...'ab_-.:/ é_'.split('')) })
    fc.assert(fc.property(part, part, part, part, (s1, t1, s2, t2) => {
      const n1 = meshName(s1, t1)
      expect(n1.length).toBeLessThanOrEqual(MAX_TOOL_NAME_LENGTH)
      expect(n1).toMatch(/^[A-Za-z0-9_.-]+$/)
      if (s1 !== s2 || t1 !== t2) expect(n1).not.toBe(meshName(s2, t2))
    }), { numRuns })
  })
})
