import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { MemoryStorage } from '@p2p-mcp/consensus'
import type { RaftStorage } from '@p2p-mcp/consensus'
import { FileStorage } from '@p2p-mcp/consensus/node'
import { afterEach, describe, expect, it } from 'vitest'
import { forceNewCluster, type ControlBackup } from '../../src/control-plane/recovery.js'
import { MemoryCluster, until } from './memory-cluster.js'

let cluster: MemoryCluster | undefined
let dir: string | undefined
afterEach(async () => {
  await cluster?.stop(); cluster = undefined
  if (dir !== undefined) await rm(dir, { recursive: true, force: true })
})

const open = async (d: string | undefined): Promise<RaftStorage> => (d === undefined ? new MemoryStorage() : await FileStorage.open({ dir: d, fsync: false }))

describe('disaster recovery', { timeout: 60_000 }, () => {
  it('force-new-cluster after a permanent loss of quorum keeps the applied state; a backup restores into a new peer', async () => {
    dir = await mkdtemp(join(tmpdir(), 'control-dr-'))
    cluster = new MemoryCluster()
    const opts = (id: string): Record<string, unknown> => ({ dataDir: join(dir!, id), openStorage: open, maxVoters: 3 })
    const a = cluster.add('a', opts('a'))
    await a.start()
    await until('a leads', () => a.isLeader)
    for (const id of ['b', 'c']) await cluster.add(id, opts(id), ['a']).start()
    await until('3 voters', () => a.status().voters.length === 3)
    await a.propose('kv', { op: 'put', ns: 'dr', key: 'x', value: 1 })
    const backup = await a.read<ControlBackup>({ what: 'snapshot' })
    await a.propose('kv', { op: 'put', ns: 'dr', key: 'x', value: 2 })
    const oldCluster = a.cluster
    await cluster.kill('b')
    await cluster.kill('c')
    await expect(a.propose('kv', { op: 'put', ns: 'dr', key: 'x', value: 99 })).rejects.toMatchObject({ name: 'NoQuorumError' })
    await a.stop()

    const r = await forceNewCluster({ dataDir: join(dir, 'a'), self: 'a' })
    expect(r.cluster).not.toBe(oldCluster)
    expect(r.previous).toMatch(/before-force-new-cluster/)
    const a2 = cluster.add('a', opts('a'))
    await a2.start()
    await until('a leads alone', () => a2.isLeader, 20_000)
    expect(a2.cluster).toBe(r.cluster)
    expect(a2.kv.get('dr', 'x')?.value).toBe(2)
    expect(a2.status().voters).toEqual(['a'])
    expect(a2.status().members.find((m) => m.peerId === 'b')?.leftAtMs).toBeDefined()
    await expect(a2.propose('kv', { op: 'put', ns: 'dr', key: 'x', value: 3 })).resolves.toMatchObject({ ok: true, version: 3 })
    // a new peer joins the new group
    const d = cluster.add('d', opts('d'), ['a'])
    await d.start()
    await until('d is a learner', () => a2.status().learners.includes('d'))
    await until('d has the state', () => d.kv.get('dr', 'x')?.value === 3)

    // the backup taken before x = 2 restores into a fresh peer as its own group
    const r2 = await forceNewCluster({ dataDir: join(dir, 'e'), self: 'e', from: backup })
    const e = cluster.add('e', opts('e'))
    await e.start()
    await until('e leads its restored group', () => e.isLeader, 20_000)
    expect(e.cluster).toBe(r2.cluster)
    expect(e.kv.get('dr', 'x')?.value).toBe(1)
  })
})
