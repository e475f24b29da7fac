// Helpers for the end-to-end tests: mesh peers as `p2p-mcp start` child processes.
import { type ChildProcess, spawn } from 'node:child_process'
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'

export const root = fileURLToPath(new URL('../../../../', import.meta.url))
export const cli = fileURLToPath(new URL('../../src/cli.ts', import.meta.url))
export const hooks = fileURLToPath(new URL('../../../testkit/src/ts-hooks.ts', import.meta.url))
export const calcServer = join(root, 'examples', 'calc-server', 'server.mjs')
export const notesServer = join(root, 'examples', 'notes-server', 'server.mjs')

export interface Peer {
  name: string
  child: ChildProcess
  peerId: string
  multiaddrs: string[]
  http: string | null
  stderr: () => string
  exited: Promise<number | null>
  kill: (signal?: NodeJS.Signals) => Promise<void>
}

/** Runs `p2p-mcp <args>` from source; resolves with its exit code and output. */
export async function runCli (args: string[], timeoutMs = 20_000): Promise<{ code: number | null, stdout: string, stderr: string }> {
  const child = spawn(process.execPath, ['--import', hooks, cli, ...args], { stdio: ['ignore', 'pipe', 'pipe'] })
  let stdout = ''
  let stderr = ''
  child.stdout.setEncoding('utf8').on('data', (s: string) => { stdout += s })
  child.stderr.setEncoding('utf8').on('data', (s: string) => { stderr += s })
  const timer = setTimeout(() => { child.kill('SIGKILL') }, timeoutMs)
  timer.unref()
  const code = await new Promise<number | null>((resolve) => { child.once('exit', (c) => { resolve(c) }) })
  clearTimeout(timer)
  return { code, stdout, stderr }
}

/** Writes `config` to `<dir>/<name>.json` and starts a peer with it; resolves once it printed its ready line. */
export async function startPeer (dir: string, name: string, config: Record<string, unknown>, timeoutMs = 30_000): Promise<Peer> {
  const file = join(dir, `${name}.json`)
  await writeFile(file, JSON.stringify(config))
  const child = spawn(process.execPath, ['--import', hooks, cli, 'start', '-c', file], { stdio: ['ignore', 'pipe', 'pipe'] })
  let stderr = ''
  child.stderr.setEncoding('utf8').on('data', (s: string) => { stderr += s })
  const exited = new Promise<number | null>((resolve) => { child.once('exit', (c) => { resolve(c) }) })
  const ready = await new Promise<{ peerId: string, multiaddrs: string[], http: string | null }>((resolve, reject) => {
    const lines = createInterface({ input: child.stdout })
    const timer = setTimeout(() => { child.kill('SIGKILL'); reject(new Error(`peer ${name} not ready within ${timeoutMs} ms:\n${stderr}`)) }, timeoutMs)
    timer.unref()
    void exited.then((code) => { clearTimeout(timer); reject(new Error(`peer ${name} exited (${code}) before it was ready:\n${stderr}`)) })
    lines.on('line', (line) => {
      try {
        const msg = JSON.parse(line) as { event?: string, peerId: string, multiaddrs: string[], http: string | null }
        if (msg.event !== 'ready') return
        clearTimeout(timer)
        resolve(msg)
      } catch { /* not ours */ }
    })
  })
  return {
    name,
    child,
    ...ready,
    stderr: () => stderr,
    exited,
    kill: async (signal: NodeJS.Signals = 'SIGTERM') => {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal)
      const timer = setTimeout(() => { child.kill('SIGKILL') }, 15_000)
      timer.unref()
      await exited
      clearTimeout(timer)
    },
  }
}

/** Polls `check` every `intervalMs` until it returns a value other than undefined, or fails after `timeoutMs`. */
export async function until<T> (what: string, check: () => Promise<T | undefined> | T | undefined, timeoutMs = 20_000, intervalMs = 100): Promise<T> {
  const deadline = Date.now() + timeoutMs
  let last: unknown
  for (;;) {
    try {
      const v = await check()
      if (v !== undefined) return v
    } catch (err) { last = err }
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last === undefined ? '' : `: ${(last as Error).message}`}`)
    await new Promise((resolve) => setTimeout(resolve, intervalMs))
  }
}

/** Starts examples/reference-server (SDK v2) as a child process on a free port. */
export async function startReference (): Promise<{ url: URL, close: () => Promise<void> }> {
  const child = spawn(process.execPath, [join(root, 'examples', 'reference-server', 'server.ts')], { env: { ...process.env, PORT: '0' }, stdio: ['ignore', 'ignore', 'pipe'] })
  const exited = new Promise<void>((resolve) => { child.once('exit', () => { resolve() }) })
  const url = await new Promise<URL>((resolve, reject) => {
    createInterface({ input: child.stderr }).on('line', (line) => {
      const m = /reference server on (\S+)/.exec(line)
      if (m !== null) resolve(new URL(m[1]!))
    })
    void exited.then(() => { reject(new Error('the reference server exited before it listened')) })
  })
  return { url, close: async () => { child.kill('SIGTERM'); await exited } }
}
