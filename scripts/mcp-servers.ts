// Third-party MCP servers the conformance and interop scripts run against, at pinned versions.
import { spawn, type ChildProcess } from 'node:child_process'

export const EVERYTHING = '@modelcontextprotocol/server-everything@2026.8.31'
const npx = process.platform === 'win32' ? 'npx.cmd' : 'npx'

/** Waits until `probe` resolves to something other than undefined, polling every `everyMs`. */
export async function until<T> (what: string, probe: () => Promise<T | undefined>, timeoutMs = 60_000, everyMs = 250): Promise<T> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const v = await probe().catch(() => undefined)
    if (v !== undefined) return v
    if (Date.now() > deadline) throw new Error(`${what}: not ready after ${timeoutMs} ms`)
    await new Promise((resolve) => setTimeout(resolve, everyMs))
  }
}

/** Starts server-everything over Streamable HTTP on `port` (its own process group, stopped as one). */
export async function startEverything (port: number): Promise<{ url: URL, stop: () => void }> {
  const child: ChildProcess = spawn(npx, ['--yes', EVERYTHING, 'streamableHttp'], { env: { ...process.env, PORT: String(port) }, stdio: 'ignore', detached: true })
  const url = new URL(`http://127.0.0.1:${port}/mcp`)
  await until('server-everything', async () => (await fetch(url, { method: 'GET' }).then(() => true)))
  return {
    url,
    stop () {
      // npx runs the server as its child: stop the whole process group.
      try { process.kill(-child.pid!, 'SIGTERM') } catch { child.kill('SIGTERM') }
    },
  }
}
