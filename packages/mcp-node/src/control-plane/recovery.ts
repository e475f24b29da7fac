import { randomUUID } from 'node:crypto'
import { mkdir, readFile, rename, stat, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import type { RaftStorage } from '@p2p-mcp/consensus'
import { FileStorage } from '@p2p-mcp/consensus/node'
import { CONTROL_DIR } from './constants.js'
import { ControlPlaneUnavailableError } from './errors.js'
import { KvModule } from './kv-module.js'
import { MembersModule } from './members-module.js'
import { PolicyModule } from './policy-module.js'
import { TrustModule } from './trust-module.js'
import { ReplicatedStateMachine } from './state-machine.js'
import type { ReplicatedModule } from './types.js'
import { errorMessage } from '../errors.js'

/** A backup of the control plane's state: what `mesh__control_snapshot` returns. */
export interface ControlBackup {
  v: 1
  cluster: string
  index: number
  timeMs: number
  /** The replicated state machine's snapshot (all modules), base64. */
  snapshot: string
}

export interface ForceNewClusterOptions {
  /** The stopped peer's data directory. */
  dataDir: string
  /** This peer's id (the only voter of the new group). */
  self: string
  /** Start from this backup instead of the peer's own log. */
  from?: ControlBackup | undefined
  /** Modules beyond members, policy and kv that the log holds (the scheduler's). */
  modules?: ReplicatedModule[]
  /** @default Date.now */
  clock?: () => number
}

export interface ForceNewClusterResult {
  cluster: string
  index: number
  /** Where the previous control directory was moved. */
  previous: string | undefined
}

function machine (modules: ReplicatedModule[]): { sm: ReplicatedStateMachine, members: MembersModule } {
  const sm = new ReplicatedStateMachine()
  const members = new MembersModule()
  sm.register(members)
  const policy = new PolicyModule()
  sm.register(policy)
  sm.register(new KvModule())
  sm.register(new TrustModule(policy))
  for (const m of modules) sm.register(m)
  return { sm, members }
}

/** The state a stopped peer's log holds: its snapshot plus every committed entry after it. */
async function stateFromLog (raftDir: string, modules: ReplicatedModule[]): Promise<{ sm: ReplicatedStateMachine, members: MembersModule, index: number, term: number }> {
  let storage: RaftStorage
  try {
    storage = await FileStorage.open({ dir: raftDir })
  } catch (err) {
    throw new ControlPlaneUnavailableError(`cannot open the control-plane log in ${raftDir} (${errorMessage(err)}); stop the peer first, or restore from a backup with --from`, { cause: err })
  }
  try {
    const { sm, members } = machine(modules)
    const snap = storage.snapshot()
    if (snap.meta.index > 0) sm.restore(snap.data)
    const commit = Math.min(storage.initialState().hardState.commit, storage.lastIndex())
    let index = snap.meta.index
    while (index < commit) {
      for (const e of storage.entries(index + 1, commit + 1)) {
        if (e.type === 'normal' && e.data.byteLength > 0) sm.apply(e)
        index = e.index
      }
    }
    if (sm.halted !== undefined) throw sm.halted
    return { sm, members, index, term: index === 0 ? 0 : storage.term(index) }
  } finally {
    await storage.close()
  }
}

/**
 * Recovery from the permanent loss of a quorum (like etcd's `--force-new-cluster`), on a
 * stopped peer: its applied state (or a backup) becomes the snapshot of a new group with a new
 * cluster id and this peer as its only voter; every other member is marked gone. The previous
 * control directory is kept beside it. Peers of the old group must have their data directory
 * wiped before they join the new one (the cluster id keeps the two apart until then).
 */
export async function forceNewCluster (options: ForceNewClusterOptions): Promise<ForceNewClusterResult> {
  const clock = options.clock ?? Date.now
  const controlDir = join(options.dataDir, CONTROL_DIR)
  const modules = options.modules ?? []
  let sm: ReplicatedStateMachine
  let members: MembersModule
  let index: number
  let term: number
  if (options.from !== undefined) {
    if (options.from.v !== 1 || typeof options.from.snapshot !== 'string') throw new ControlPlaneUnavailableError('the backup is not a control-plane backup of version 1 (made by p2p-mcp control backup)')
    ;({ sm, members } = machine(modules))
    sm.restore(new Uint8Array(Buffer.from(options.from.snapshot, 'base64')))
    if (sm.halted !== undefined) throw sm.halted
    index = options.from.index
    term = 1
  } else {
    ;({ sm, members, index, term } = await stateFromLog(join(controlDir, 'raft'), modules))
  }
  members.forgetAllBut(options.self, Math.max(sm.timeMs, clock()))
  const data = sm.snapshot()
  let previous: string | undefined
  if (await stat(controlDir).then(() => true, () => false)) {
    previous = `${controlDir}.before-force-new-cluster-${clock()}`
    await rename(controlDir, previous)
  }
  await mkdir(controlDir, { recursive: true })
  const cluster = randomUUID()
  const storage = await FileStorage.open({ dir: join(controlDir, 'raft') })
  try {
    const at = Math.max(index, 1)
    await storage.persist({
      entries: [],
      hardState: { term: Math.max(term, 1), vote: '', commit: at },
      snapshot: { meta: { index: at, term: Math.max(term, 1), conf: { voters: [options.self], learners: [] } }, data },
    }, { sync: true })
  } finally {
    await storage.close()
  }
  await writeFile(join(controlDir, 'cluster.json'), JSON.stringify({ cluster, createdBy: options.self, bootstrapped: true }))
  return { cluster, index, previous }
}

/** Reads a backup file written by `p2p-mcp control backup`. */
export async function readBackup (path: string): Promise<ControlBackup> {
  const b = JSON.parse(await readFile(path, 'utf8')) as ControlBackup
  if (b.v !== 1 || typeof b.snapshot !== 'string' || typeof b.cluster !== 'string') throw new ControlPlaneUnavailableError(`${path} is not a control-plane backup (made by p2p-mcp control backup)`)
  return b
}
