import { describe, expect, it } from 'vitest'
import { legacyPrincipalWarning, policyCommandVersion } from '../src/policy.js'
import { parseConfig, Policy } from '../src/index.js'

const policy = (p: unknown): Policy => new Policy(parseConfig({ policy: p }).policy)

describe('Policy', () => {
  it('allows everything by default', () => {
    expect(policy({}).check('token:anyone', 'calc__add').allowed).toBe(true)
  })

  it('denies by pattern per principal, deny winning over allow', () => {
    const p = policy({ rules: [{ principal: '*', deny: ['notes__add_*'] }, { principal: 'token:alice', allow: ['notes__*'] }] })
    expect(p.check('token:alice', 'notes__add_note')).toMatchObject({ allowed: false })
    expect(p.check('token:alice', 'notes__list_notes').allowed).toBe(true)
    expect(p.check('token:alice', 'calc__add')).toMatchObject({ allowed: false, reason: expect.stringContaining('allow list') as string })
    expect(p.check('token:bob', 'calc__add').allowed).toBe(true)
  })

  it('default deny needs an allow rule', () => {
    const p = policy({ default: 'deny', rules: [{ principal: 'peer:12D3Koo*', allow: ['calc__*'] }] })
    expect(p.check('peer:12D3KooWabc', 'calc__add').allowed).toBe(true)
    expect(p.check('local', 'calc__add').allowed).toBe(false)
    expect(p.check('token:12D3KooWabc', 'calc__add').allowed).toBe(false)
  })

  it('a token whose subject is "local" never gets the rules of local (stdio)', () => {
    const p = policy({ default: 'deny', rules: [{ principal: 'local', allow: ['*'] }] })
    expect(p.check('local', 'calc__add').allowed).toBe(true)
    expect(p.check('token:local', 'calc__add').allowed).toBe(false)
    expect(p.check('oauth:https://idp.example#local', 'calc__add').allowed).toBe(false)
    expect(p.check('peer:local', 'calc__add').allowed).toBe(false)
  })

  it('oauth principals are matched with their issuer; rules may require scopes', () => {
    const p = policy({
      default: 'deny',
      rules: [
        { principal: 'oauth:https://idp.example#*', scopes: ['mcp:tools'], allow: ['calc__*'] },
        { principal: 'oauth:https://idp.example#*', scopes: ['mcp:admin'], allow: ['mesh__*'] },
      ],
    })
    expect(p.check('oauth:https://idp.example#u1', 'calc__add', ['mcp:tools']).allowed).toBe(true)
    expect(p.check('oauth:https://idp.example#u1', 'calc__add', []).allowed).toBe(false)
    expect(p.check('oauth:https://idp.example#u1', 'mesh__policy_set', ['mcp:tools']).allowed).toBe(false)
    expect(p.check('oauth:https://idp.example#u1', 'mesh__policy_set', ['mcp:admin']).allowed).toBe(true)
    expect(p.check('oauth:https://other.example#u1', 'calc__add', ['mcp:tools']).allowed).toBe(false)
  })

  it('a pattern without a kind is read as before (a peer id or a token subject) and warned about', () => {
    const config = parseConfig({ policy: { rules: [{ principal: 'alice', deny: ['calc__add'] }, { principal: 'local', deny: ['x'] }] } }).policy
    const p = new Policy(config)
    expect(p.check('token:alice', 'calc__add').allowed).toBe(false)
    expect(p.check('peer:alice', 'calc__add').allowed).toBe(false)
    expect(p.check('oauth:https://idp.example#alice', 'calc__add').allowed).toBe(true)
    expect(p.check('webhook:alice', 'calc__add').allowed).toBe(true)
    expect(p.legacyPatterns()).toEqual(['alice'])
    expect(legacyPrincipalWarning(config, ['ops'])).toMatch(/"alice" \(now peer:alice or token:alice\), "ops" \(now peer:ops or token:ops\)/)
    expect(legacyPrincipalWarning(parseConfig({ policy: { rules: [{ principal: 'token:alice', deny: ['x'] }] } }).policy)).toBeUndefined()
  })
})

describe('Policy per kind (tools, resources, prompts)', () => {
  it('resource rules match URIs and prompt rules aggregated names; the default applies to every kind', () => {
    const p = policy({
      default: 'deny',
      rules: [
        { principal: 'token:alice', allow: ['calc__*'], resources: { allow: ['file:///docs/*'], deny: ['file:///docs/secret*'] }, prompts: { allow: ['calc__explain'] } },
        { principal: 'token:*', scopes: ['mesh.read'], resources: { allow: ['mesh://status'] } },
      ],
    })
    expect(p.check('token:alice', 'calc__add').allowed).toBe(true)
    expect(p.check('token:alice', 'file:///docs/a.md', [], 'resource').allowed).toBe(true)
    expect(p.check('token:alice', 'file:///docs/secret.md', [], 'resource')).toMatchObject({ allowed: false, reason: expect.stringContaining('rules.0.resources') as string })
    expect(p.check('token:alice', 'calc__explain', [], 'prompt').allowed).toBe(true)
    expect(p.check('token:alice', 'calc__other', [], 'prompt')).toMatchObject({ allowed: false, reason: expect.stringContaining('prompt allow list') as string })
    // a tool pattern does not grant a prompt of the same name, nor a resource
    expect(p.check('token:alice', 'calc__add', [], 'prompt').allowed).toBe(false)
    expect(p.check('token:bob', 'file:///docs/a.md', [], 'resource').allowed).toBe(false)
    expect(p.check('token:bob', 'mesh://status', ['mesh.read'], 'resource').allowed).toBe(true)
    expect(p.check('token:bob', 'mesh://status', [], 'resource').allowed).toBe(false)
  })

  it('names the lowest policy command version that carries a policy', () => {
    const v = (p: unknown): number => policyCommandVersion(parseConfig({ policy: p }).policy)
    expect(v({})).toBe(1)
    expect(v({ default: 'deny', rules: [{ principal: 'local', allow: ['*'], deny: ['x'] }] })).toBe(1)
    expect(v({ rules: [{ principal: 'local', scopes: ['a'] }] })).toBe(2)
    expect(v({ rules: [{ principal: 'local', resources: { allow: ['*'] } }] })).toBe(2)
    expect(v({ rules: [{ principal: 'local', prompts: { deny: ['*'] } }] })).toBe(2)
    expect(v({ limits: [{ principal: 'token:*', requestsPerMinute: 60 }] })).toBe(2)
    expect(v({ servers: { calc: { maxConcurrentExecutions: 2 } } })).toBe(2)
  })

  it('refuses a limit without a rate or a concurrency, naming the field', () => {
    expect(() => parseConfig({ policy: { limits: [{ principal: 'token:*' }] } })).toThrowError(/policy\.limits\.0.*requestsPerMinute or maxConcurrent/)
    expect(() => parseConfig({ upstreams: [{ name: 'x', type: 'stdio', command: 'x', accessPolicy: { requestsPerMinute: 0 } }] })).toThrowError(/upstreams\.0\.accessPolicy\.requestsPerMinute/)
  })
})
