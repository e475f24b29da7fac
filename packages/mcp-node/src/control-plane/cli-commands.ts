// `p2p-mcp control …` and `p2p-mcp policy …`: the control plane from the command line.
import { readFile, writeFile } from 'node:fs/promises'
import type { Client } from '@modelcontextprotocol/sdk/client/index.js'
import type { McpNodeConfig } from '../config.js'
import { errorMessage } from '../errors.js'

export const CONTROL_USAGE = `  control status [-c <config> | --url <url>]     the control plane: leader, term, voters, learners, lag (mesh__control_status)
  control backup --out <file> [-c | --url]       save a snapshot of the replicated state (admins)
  control force-new-cluster -c <config> [--from <backup>]
                                                 on a STOPPED peer after the quorum is lost for good: a new group with
                                                 this peer as its only voter, from its own log or from a backup
  policy get [-c <config> | --url <url>]         the replicated policy (admins)
  policy set <policy.json | json> [--expect-version <n>] [-c | --url]
                                                 replace it (admins); {"policy": {...}, "admins": [...]} or a bare policy`

export interface CliHelpers {
  fail: (code: number, message: string) => never
  print: (value: unknown) => void
  client: () => Promise<Client>
  config: () => Promise<McpNodeConfig>
}

export interface CliValues { out?: string | undefined, from?: string | undefined, 'expect-version'?: string | undefined }

export async function callAndPrint (h: CliHelpers, name: string, args: Record<string, unknown>): Promise<Record<string, unknown>> {
  const c = await h.client()
  try {
    const r = await c.callTool({ name, arguments: args })
    if (r.isError === true) {
      const first = (r.content as Array<{ type: string, text?: string }>)[0]
      h.fail(1, `${name}: ${first?.text ?? 'failed'}`)
    }
    return r.structuredContent as Record<string, unknown>
  } finally {
    await c.close()
  }
}

export async function controlCommand (sub: string | undefined, values: CliValues, h: CliHelpers): Promise<void> {
  switch (sub) {
    case 'status': h.print(await callAndPrint(h, 'mesh__control_status', {})); return
    case 'backup': {
      if (values.out === undefined) h.fail(2, 'control backup needs --out <file>')
      const backup = await callAndPrint(h, 'mesh__control_snapshot', {})
      await writeFile(values.out, JSON.stringify(backup), { mode: 0o600 })
      h.print({ written: values.out, cluster: backup.cluster, index: backup.index })
      return
    }
    case 'force-new-cluster': {
      const cfg = await h.config()
      if (cfg.dataDir === undefined) h.fail(2, 'force-new-cluster needs a config with dataDir (the stopped peer\'s)')
      // Imported here: the other commands need none of libp2p or the WAL.
      const { loadOrCreateKey } = await import('../identity.js')
      const { peerIdFromPrivateKey } = await import('@libp2p/peer-id')
      const { forceNewCluster, readBackup } = await import('./recovery.js')
      const self = peerIdFromPrivateKey(await loadOrCreateKey(cfg.dataDir)).toString()
      try {
        const { offlineSchedulerModule } = await import('../scheduler/scheduler-module.js')
        const r = await forceNewCluster({ dataDir: cfg.dataDir, self, from: values.from === undefined ? undefined : await readBackup(values.from), modules: [offlineSchedulerModule()] })
        h.print({ ...r, voter: self, next: 'start this peer; wipe the data directories of the old group\'s peers before they join again' })
      } catch (err) {
        h.fail(1, errorMessage(err))
      }
      return
    }
    default: h.fail(2, `unknown control command ${JSON.stringify(sub)}: status, backup or force-new-cluster`)
  }
}

export async function policyCommand (sub: string | undefined, arg: string | undefined, values: CliValues, h: CliHelpers): Promise<void> {
  switch (sub) {
    case 'get': h.print(await callAndPrint(h, 'mesh__policy_get', {})); return
    case 'set': {
      if (arg === undefined) h.fail(2, 'policy set needs a policy: a JSON file or inline JSON')
      let text = arg
      if (!arg.trimStart().startsWith('{')) {
        try { text = await readFile(arg, 'utf8') } catch (err) { h.fail(2, `cannot read ${arg}: ${errorMessage(err)}`) }
      }
      let body: Record<string, unknown>
      try { body = JSON.parse(text) as Record<string, unknown> } catch (err) { h.fail(2, `the policy is not JSON: ${errorMessage(err)}`) }
      const args: Record<string, unknown> = 'policy' in body || 'admins' in body ? { ...body } : { policy: body }
      if (values['expect-version'] !== undefined) {
        const n = Number(values['expect-version'])
        if (!Number.isSafeInteger(n) || n < 0) h.fail(2, `--expect-version ${values['expect-version']} is not a version number`)
        args.expectVersion = n
      }
      h.print(await callAndPrint(h, 'mesh__policy_set', args))
      return
    }
    default: h.fail(2, `unknown policy command ${JSON.stringify(sub)}: get or set`)
  }
}
