import { describe, expect, it } from 'vitest'
import { parseConfig, Policy } from '../src/index.js'

const policy = (p: unknown): Policy => new Policy(parseConfig({ policy: p }).policy)

describe('Policy', () => {
  it('allows everything by default', () => {
    expect(policy({}).check('anyone', 'calc__add').allowed).toBe(true)
  })

  it('denies by pattern per principal, deny winning over allow', () => {
    const p = policy({ rules: [{ principal: '*', deny: ['notes__add_*'] }, { principal: 'alice', allow: ['notes__*'] }] })
    expect(p.check('alice', 'notes__add_note')).toMatchObject({ allowed: false })
    expect(p.check('alice', 'notes__list_notes').allowed).toBe(true)
    expect(p.check('alice', 'calc__add')).toMatchObject({ allowed: false, reason: expect.stringContaining('allow list') as string })
    expect(p.check('bob', 'calc__add').allowed).toBe(true)
  })

  it('default deny needs an allow rule', () => {
    const p = policy({ default: 'deny', rules: [{ principal: '12D3Koo*', allow: ['calc__*'] }] })
    expect(p.check('12D3KooWabc', 'calc__add').allowed).toBe(true)
    expect(p.check('local', 'calc__add').allowed).toBe(false)
  })
})
