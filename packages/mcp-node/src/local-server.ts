import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js'
import type { InProcessUpstreamSpec } from './upstream.js'
import { VERSION } from './version.js'

type Registration = (server: McpServer) => void

/** An SDK server cannot add capabilities once connected: registrations that come together reconnect once. */
const RECONNECT_DEBOUNCE_MS = 10

/**
 * The tools, resources and prompts registered on the node in this process, served as one
 * in-process upstream (a fresh `McpServer` with every registration on each connection).
 */
export class LocalServer {
  readonly name: string
  private readonly registrations: Registration[] = []
  private timer: ReturnType<typeof setTimeout> | undefined

  constructor (name: string) {
    this.name = name
  }

  /** The upstream spec that hosts these registrations. */
  spec (): InProcessUpstreamSpec {
    return {
      name: this.name,
      type: 'in-process',
      server: () => {
        const server = new McpServer({ name: this.name, version: VERSION }, { capabilities: { logging: {} } })
        for (const r of this.registrations) r(server)
        return server
      },
    }
  }

  /** Adds a registration; when `reconnect` is given (the upstream runs), calls it soon. */
  add (registration: Registration, reconnect?: () => void): void {
    this.registrations.push(registration)
    if (reconnect === undefined) return
    clearTimeout(this.timer)
    this.timer = setTimeout(reconnect, RECONNECT_DEBOUNCE_MS)
    this.timer.unref()
  }

  stop (): void {
    clearTimeout(this.timer)
  }
}
