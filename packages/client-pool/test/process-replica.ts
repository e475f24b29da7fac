// A replica as real child processes over stdio (one process per upstream session), which
// tests kill, restart, freeze (SIGSTOP) and thaw (SIGCONT).
import { fileURLToPath } from 'node:url'
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js'
import type { EndpointSpec } from '../src/index.js'

const script = fileURLToPath(new URL('./fixtures/stdio-replica.ts', import.meta.url))

export interface ProcessReplica {
  readonly id: string
  readonly spec: EndpointSpec
  /** Refusing new sessions (killed and not restarted). */
  dead: boolean
  /** SIGKILLs every process of the replica and refuses new sessions. */
  kill: () => void
  /** Takes new sessions again (each one a new process). */
  restart: () => void
  /** SIGSTOPs every live process of the replica. */
  freeze: () => void
  /** SIGCONTs them. */
  thaw: () => void
}

export function processReplica (id: string, env: Record<string, string> = {}): ProcessReplica {
  const transports: StdioClientTransport[] = []
  const signal = (sig: NodeJS.Signals): void => {
    for (const t of transports) {
      if (t.pid === null) continue
      try { process.kill(t.pid, sig) } catch { /* already gone */ }
    }
  }
  const r: ProcessReplica = {
    id,
    dead: false,
    kill: () => { r.dead = true; signal('SIGKILL') },
    restart: () => { r.dead = false },
    freeze: () => { signal('SIGSTOP') },
    thaw: () => { signal('SIGCONT') },
    spec: {
      id,
      connect: () => {
        if (r.dead) throw new Error(`spawn refused: ${id} is down`)
        const t = new StdioClientTransport({
          command: process.execPath,
          args: [script],
          env: { ...process.env, REPLICA_ID: id, DELAY_MS: '3', ...env },
          stderr: 'ignore',
        })
        transports.push(t)
        return t
      },
    },
  }
  return r
}
