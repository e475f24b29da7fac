// The CLI's sessions on a peer's HTTP front door. Each one ends with a DELETE on every exit path
// (done, failed, SIGINT/SIGTERM), so that CLI runs never hold the front door's session table:
// before this, each `status`/`tools`/`call` left a session open for 30 minutes (issue 17).
import { Client } from '@modelcontextprotocol/sdk/client/index.js'
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js'

/** How long the CLI waits for the peer to acknowledge the end of its session before it exits anyway. */
const TERMINATE_WAIT_MS = 3_000

/** A client whose `close()` ends its HTTP session on the peer first. */
class CliClient extends Client {
  private readonly http: StreamableHTTPClientTransport
  private readonly onClose: () => void
  private closing: Promise<void> | undefined

  constructor (http: StreamableHTTPClientTransport, onClose: () => void) {
    super({ name: 'p2p-mcp-cli', version: '0.1.0' })
    this.http = http
    this.onClose = onClose
  }

  override async close (): Promise<void> {
    this.closing ??= (async () => {
      this.onClose()
      if (this.http.sessionId !== undefined) {
        let timer: NodeJS.Timeout | undefined
        await Promise.race([
          this.http.terminateSession().catch(() => {}),
          new Promise<void>((resolve) => { timer = setTimeout(resolve, TERMINATE_WAIT_MS) }),
        ])
        clearTimeout(timer)
      }
      await super.close()
    })()
    await this.closing
  }
}

/** The sessions one CLI run opened; `closeAll()` ends those still open (on errors and signals). */
export interface CliSessions {
  /** Connects to `url`; throws what the connection failed with (the half-open session is ended first). */
  connect: (url: URL, token: string | undefined) => Promise<Client>
  closeAll: () => Promise<void>
}

export function cliSessions (): CliSessions {
  const open = new Set<CliClient>()
  let signalsHooked = false
  const closeAll = async (): Promise<void> => { await Promise.allSettled([...open].map(async (c) => { await c.close() })) }
  const hookSignals = (): void => {
    if (signalsHooked) return
    signalsHooked = true
    for (const [signal, code] of [['SIGINT', 130], ['SIGTERM', 143], ['SIGHUP', 129]] as const) {
      process.once(signal, () => { void closeAll().finally(() => { process.exit(code) }) })
    }
  }
  return {
    async connect (url, token) {
      hookSignals()
      const transport = new StreamableHTTPClientTransport(url, token === undefined ? undefined : { requestInit: { headers: { authorization: `Bearer ${token}` } } })
      const client: CliClient = new CliClient(transport, () => { open.delete(client) })
      open.add(client)
      try {
        await client.connect(transport)
      } catch (err) {
        await client.close()
        throw err
      }
      return client
    },
    closeAll,
  }
}
