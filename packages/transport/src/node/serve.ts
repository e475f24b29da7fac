import { InMemoryTransport } from '@modelcontextprotocol/sdk/inMemory.js'
import { StdioServerTransport } from '@modelcontextprotocol/sdk/server/stdio.js'
import type { Transport } from '@modelcontextprotocol/sdk/shared/transport.js'
import { serveMcp } from '../serve.js'
import type { McpServerLike } from '../types.js'
import { serveHttp } from './http-server.js'
import type {
  HttpServeSpec, Libp2pServeSpec, MemoryServeSpec, MemoryServed, ServeSessionFactory, ServeSpec, Served, StdioServeSpec,
} from './types.js'
import { check, checkSpec, isObject } from './validate.js'

/**
 * Serves MCP over `spec` with one server from `factory` per session. Resolves once
 * listening; `close()` stops it. Invalid specs throw `InvalidParametersError` naming the field.
 */
export async function serve (factory: ServeSessionFactory, spec: MemoryServeSpec): Promise<MemoryServed>
export async function serve (factory: ServeSessionFactory, spec: ServeSpec): Promise<Served>
export async function serve (factory: ServeSessionFactory, spec: ServeSpec): Promise<Served> {
  check(typeof factory === 'function', 'factory', factory, 'a function (session) => McpServer')
  const s = checkSpec(spec)
  switch (s.type) {
    case 'stdio': return serveStdio(factory, s as unknown as StdioServeSpec)
    case 'http': return serveHttp(factory, s as unknown as HttpServeSpec)
    case 'libp2p': return serveLibp2p(factory, s as unknown as Libp2pServeSpec)
    case 'memory': return serveMemory(factory)
  }
}

async function serveStdio (factory: ServeSessionFactory, spec: StdioServeSpec): Promise<Served> {
  check(spec.stdin === undefined || isObject(spec.stdin), 'stdin', spec.stdin, 'a readable stream')
  check(spec.stdout === undefined || isObject(spec.stdout), 'stdout', spec.stdout, 'a writable stream')
  const transport = new StdioServerTransport(spec.stdin, spec.stdout)
  const server = await factory({ transport: 'stdio' })
  let open = true
  transport.onclose = () => { open = false }
  await server.connect(transport)
  return {
    get sessionCount () { return open ? 1 : 0 },
    async close () { open = false; await server.close() },
  }
}

async function serveLibp2p (factory: ServeSessionFactory, spec: Libp2pServeSpec): Promise<Served> {
  check(isObject(spec.libp2p) && typeof (spec.libp2p as { handle?: unknown }).handle === 'function', 'libp2p', spec.libp2p, 'a started libp2p node')
  const { type: _type, libp2p, onerror, ...options } = spec
  const unserve = await serveMcp(libp2p, async (session) => factory({
    transport: 'libp2p', sessionId: session.sessionId, remotePeer: session.remotePeer, authInfo: session.authInfo,
  }), { ...options, ...(onerror === undefined ? {} : { onerror: (err: Error) => { onerror(err) } }) })
  return {
    get sessionCount () { return unserve.sessionCount },
    close: unserve,
  }
}

function serveMemory (factory: ServeSessionFactory): MemoryServed {
  const servers = new Set<McpServerLike>()
  let closed = false
  return {
    get sessionCount () { return servers.size },
    async connect (): Promise<Transport> {
      if (closed) throw new Error('in-memory MCP service is closed; serve it again')
      const [clientSide, serverSide] = InMemoryTransport.createLinkedPair()
      const server = await factory({ transport: 'memory' })
      servers.add(server)
      serverSide.onclose = () => { servers.delete(server) }
      await server.connect(serverSide)
      return clientSide
    },
    async close () {
      closed = true
      await Promise.all([...servers].map(async (server) => { await server.close() }))
      servers.clear()
    },
  }
}
