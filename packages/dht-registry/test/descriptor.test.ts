import { readFileSync, writeFileSync } from 'node:fs'
import { describe, expect, it } from 'vitest'
import { DescriptorSchema, descriptorJsonSchema } from '../src/index.js'
import { descriptorFor } from './fixtures.js'

describe('descriptor schema', () => {
  it('is published as JSON Schema in descriptor.schema.json (regenerate with UPDATE_SCHEMA=1)', () => {
    const url = new URL('../descriptor.schema.json', import.meta.url)
    if (process.env.UPDATE_SCHEMA === '1') writeFileSync(url, `${JSON.stringify(descriptorJsonSchema(), null, 2)}\n`)
    const file = JSON.parse(readFileSync(url, 'utf8')) as unknown
    expect(file).toEqual(descriptorJsonSchema())
  })

  it('names every required field', () => {
    const schema = descriptorJsonSchema() as { required: string[] }
    expect(schema.required.sort()).toEqual(['capabilities', 'expiresAt', 'heartbeatIntervalMs', 'issuedAt', 'load', 'multiaddrs', 'peerId', 'seq', 'servers', 'v'])
  })

  it('accepts a full descriptor and refuses bad fields', () => {
    const d = descriptorFor('12D3KooWtest')
    expect(DescriptorSchema.parse(d)).toEqual(d)
    expect(DescriptorSchema.safeParse({ ...d, capabilities: ['has space'] }).success).toBe(false)
    expect(DescriptorSchema.safeParse({ ...d, multiaddrs: ['not-an-addr'] }).success).toBe(false)
    expect(DescriptorSchema.safeParse({ ...d, load: { inFlight: -1, ewmaLatencyMs: 0 } }).success).toBe(false)
    expect(DescriptorSchema.safeParse({ ...d, servers: [{ ...d.servers[0], tools: [{ name: 'x', inputSchemaHash: 'XYZ' }] }] }).success).toBe(false)
    expect(DescriptorSchema.safeParse({ ...d, servers: [{ ...d.servers[0], name: 'a\u0000b' }] }).success).toBe(false)
  })
})
