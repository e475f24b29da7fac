import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { mountTmpfs, unmountTmpfs } from '../support/tmpfs.js'
import { FileStorage } from '../../src/node/index.js'
import { RaftNode } from '../../src/raft-node.js'
import { MemoryNetwork } from '../../src/transport/memory-transport.js'
import { KvStateMachine } from '../../src/sim/kv-workload.js'

const enc = new TextEncoder()
const root = mkdtempSync(join(tmpdir(), 'raft-node-file-'))
afterAll(() => { rmSync(root, { recursive: true, force: true }) })
const put = (key: string, value: string): Uint8Array => enc.encode(JSON.stringify({ op: 'put', key, value }))

async function until (what: string, ok: () => boolean, ms = 15_000): Promise<void> {
  const deadline = Date.now() + ms
  while (!ok()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise(resolve => setTimeout(resolve, 20))
  }
}

interface Member { id: string, node: RaftNode, storage: FileStorage, sm: KvStateMachine }

async function start (id: string, dir: string, voters: string[], net: MemoryNetwork): Promise<Member> {
  const storage = await FileStorage.open({ dir, voters })
  const sm = new KvStateMachine()
  const node = new RaftNode({ id, storage, transport: net.transport(id), stateMachine: sm, tickMs: 20, electionTicks: 10, snapshotThreshold: 20 })
  await node.start()
  return { id, node, storage, sm }
}

async function stop (m: Member): Promise<void> {
  await m.node.stop()
  await m.storage.close()
}

describe('RaftNode on FileStorage', () => {
  it('26: a member whose WAL was damaged refuses to start; the others keep every acknowledged write', async () => {
    const ids = ['a', 'b', 'c']
    const dirs = ids.map(id => join(root, `c26-${id}`))
    const net = new MemoryNetwork()
    let members = await Promise.all(ids.map(async (id, i) => await start(id, dirs[i]!, ids, net)))
    members[0]!.node.campaign()
    await until('a leader', () => members.some(m => m.node.status().role === 'leader'))
    const leader = (): Member => members.find(m => m.node.status().role === 'leader')!
    const acked: string[] = []
    for (let i = 0; i < 30; i++) {
      await leader().node.propose(put(`k${i}`, `v${i}`))
      acked.push(`k${i}`)
    }
    await until('all applied', () => members.every(m => m.sm.get('k29') === 'v29'))
    await Promise.all(members.map(stop))
    // Damage c: flip a byte in the middle of its newest segment.
    const walDir = join(dirs[2]!, 'wal')
    const seg = join(walDir, readdirSync(walDir).sort().at(-1)!)
    const bytes = readFileSync(seg)
    bytes[Math.floor(bytes.byteLength / 2)] = bytes[Math.floor(bytes.byteLength / 2)]! ^ 0x40
    writeFileSync(seg, bytes)
    await expect(FileStorage.open({ dir: dirs[2]! })).rejects.toMatchObject({ name: 'CorruptLogError', file: seg })
    // a and b restart from their files and keep serving: nothing acknowledged is lost.
    const net2 = new MemoryNetwork()
    members = await Promise.all(ids.slice(0, 2).map(async (id, i) => await start(id, dirs[i]!, ids, net2)))
    members[1]!.node.campaign()
    await until('a new leader', () => members.some(m => m.node.status().role === 'leader'))
    await leader().node.propose(put('after', 'restart'))
    await leader().node.read()
    for (const k of acked) expect(leader().sm.get(k)).toBe(`v${k.slice(1)}`)
    expect(leader().sm.get('after')).toBe('restart')
    await Promise.all(members.map(stop))
  }, 60_000)

  it('restarts from snapshot + WAL after a crash and applies each entry once', async () => {
    const dir = join(root, 'single')
    const net = new MemoryNetwork()
    let m = await start('solo', dir, ['solo'], net)
    m.node.campaign()
    await until('leader', () => m.node.status().role === 'leader')
    for (let i = 0; i < 45; i++) await m.node.propose(enc.encode(JSON.stringify({ op: 'append', key: 'log', value: `${i},` })))
    const expected = m.sm.get('log')
    // kill -9: no close(), the lock stays behind with our pid; a new process would take it over.
    await m.node.stop()
    rmSync(join(dir, 'LOCK'))
    m = await start('solo', dir, ['solo'], net)
    m.node.campaign()
    await until('leader again', () => m.node.status().role === 'leader')
    await m.node.read()
    expect(m.storage.snapshot().meta.index).toBeGreaterThan(0)
    expect(m.sm.get('log')).toBe(expected)
    // New writes after the restart are applied, not mistaken for the old incarnation's
    // request ids (which the state machine applies once).
    await m.node.propose(enc.encode(JSON.stringify({ op: 'append', key: 'log', value: 'after,' })))
    expect(m.sm.get('log')).toBe(`${expected ?? ''}after,`)
    await stop(m)
  }, 30_000)
})

const tmpfs = mountTmpfs(join(root, 'tmpfs'), 1 << 20)
afterAll(() => { unmountTmpfs(tmpfs) })

// Mounting needs CAP_SYS_ADMIN; without it there is no honest way to fill a disk on loopback.
describe.skipIf(tmpfs === undefined)('RaftNode on a full disk', () => {
  it('refuses proposals with DiskFullError, stays up, and resumes when space is freed', async () => {
    const net = new MemoryNetwork()
    const m = await start('solo', join(tmpfs!, 'n'), ['solo'], net)
    m.node.campaign()
    await until('leader', () => m.node.status().role === 'leader')
    await m.node.propose(put('a', '1'))
    const filler = join(tmpfs!, 'filler')
    try { writeFileSync(filler, Buffer.alloc(2 << 20)) } catch { /* ENOSPC: the point */ }
    const big = put('b', 'x'.repeat(200_000))
    const pending = m.node.propose(big, { timeoutMs: 30_000 })
    const refused = async (): Promise<boolean> => await m.node.propose(put('c', '1'), { timeoutMs: 200 }).then(() => false, (err: Error) => err.name === 'DiskFullError')
    const deadline = Date.now() + 10_000
    while (!(await refused())) if (Date.now() > deadline) throw new Error('no DiskFullError')
    // Still up: the loop retries the failed write every tick instead of crashing.
    expect(m.node.status().role).toBe('leader')
    expect(await refused()).toBe(true)
    rmSync(filler)
    await pending
    expect(m.sm.get('b')?.length).toBe(200_000)
    await m.node.propose(put('c', '2'))
    expect(m.sm.get('c')).toBe('2')
    await stop(m)
  }, 30_000)
})
