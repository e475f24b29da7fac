import { type ChildProcess, spawn } from 'node:child_process'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import type { Libp2p } from '@libp2p/interface'
import { multiaddr, type Multiaddr } from '@multiformats/multiaddr'

/** The line prefix a peer process prints on stdout once it is listening. */
const READY = 'P2P_MCP_TESTKIT_READY '

/** What a peer process announced once ready. */
export interface PeerAnnouncement {
  peerId: string
  multiaddrs: string[]
  /** Anything else the peer chose to announce. */
  info: Record<string, unknown>
}

export interface SpawnPeerOptions {
  args?: string[]
  env?: Record<string, string>
  /** @default 20000 */
  readyTimeoutMs?: number
}

/** A peer running as a child process. */
export interface PeerProcess extends PeerAnnouncement {
  /** `multiaddrs`, parsed: pass them to `node.dial()` or `dialMcp()`. */
  readonly addrs: Multiaddr[]
  readonly child: ChildProcess
  /** Everything the peer wrote to stderr so far. */
  stderr: () => string
  /** Sends `signal` (default SIGKILL: an abrupt stop) and waits for the exit. */
  kill: (signal?: NodeJS.Signals) => Promise<void>
  /** Graceful stop: SIGTERM, then SIGKILL after 5 s. Idempotent. */
  stop: () => Promise<void>
}

/**
 * Runs `script` (a .ts or .js file, run by Node with type stripping and `.js` → `.ts`
 * import resolution) as a child process and waits until it calls `announcePeer()`.
 */
export async function spawnPeer (script: string | URL, options: SpawnPeerOptions = {}): Promise<PeerProcess> {
  const hooks = fileURLToPath(new URL('./ts-hooks.ts', import.meta.url))
  const file = script instanceof URL ? fileURLToPath(script) : script
  const child = spawn(process.execPath, ['--import', hooks, file, ...(options.args ?? [])], {
    env: { ...process.env, ...options.env },
    stdio: ['pipe', 'pipe', 'pipe'],
  })
  let stderr = ''
  child.stderr.setEncoding('utf8')
  child.stderr.on('data', (s: string) => { stderr += s })
  const exited = new Promise<void>((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) resolve()
    else child.once('exit', () => { resolve() })
  })
  const kill = async (signal: NodeJS.Signals = 'SIGKILL'): Promise<void> => {
    if (child.exitCode === null && child.signalCode === null) child.kill(signal)
    await exited
  }
  const stop = async (): Promise<void> => {
    if (child.exitCode !== null || child.signalCode !== null) return
    child.kill('SIGTERM')
    const timer = setTimeout(() => { child.kill('SIGKILL') }, 5_000)
    timer.unref()
    await exited
    clearTimeout(timer)
  }

  const timeoutMs = options.readyTimeoutMs ?? 20_000
  const announcement = await new Promise<PeerAnnouncement>((resolve, reject) => {
    const lines = createInterface({ input: child.stdout })
    const timer = setTimeout(() => { fail(new Error(`peer ${file} did not announce itself within ${timeoutMs} ms`)) }, timeoutMs)
    timer.unref()
    const onExit = (code: number | null, signal: string | null): void => {
      fail(new Error(`peer ${file} exited (code ${code}, signal ${signal}) before announcing itself; stderr:\n${stderr}`))
    }
    const fail = (err: Error): void => {
      clearTimeout(timer)
      child.off('exit', onExit)
      lines.close()
      void kill().then(() => { reject(err) })
    }
    child.once('exit', onExit)
    lines.on('line', (line) => {
      if (!line.startsWith(READY)) return
      clearTimeout(timer)
      child.off('exit', onExit)
      lines.close()
      resolve(JSON.parse(line.slice(READY.length)) as PeerAnnouncement)
    })
  })
  return { ...announcement, addrs: announcement.multiaddrs.map((m) => multiaddr(m)), child, stderr: () => stderr, kill, stop }
}

/**
 * Called inside a peer process: prints the ready line `spawnPeer` waits for, and stops
 * `node` (then exits) on SIGTERM, SIGINT or when the parent closes stdin.
 */
export function announcePeer (node: Libp2p, info: Record<string, unknown> = {}): void {
  const announcement: PeerAnnouncement = {
    peerId: node.peerId.toString(),
    multiaddrs: node.getMultiaddrs().map((ma) => ma.toString()),
    info,
  }
  let stopping = false
  const shutdown = (): void => {
    if (stopping) return
    stopping = true
    Promise.resolve(node.stop()).then(() => process.exit(0), () => process.exit(1))
  }
  process.once('SIGTERM', shutdown)
  process.once('SIGINT', shutdown)
  process.stdin.on('end', shutdown)
  process.stdin.resume()
  process.stdout.write(`${READY}${JSON.stringify(announcement)}\n`)
}
