import type { AddressInfo } from 'node:net'
import { intOption } from '../options.js'
import { createMcpHttpServer } from './admission.js'
import { createMcpHttpHandler, defaultAllowedHosts } from './http-handler.js'
import type { HttpServeSpec, ServeSessionFactory, Served } from './types.js'
import { check } from './validate.js'

/** `serve(factory, { type: 'http' })`: the mountable handler on its own `node:http` server, one path. */
export async function serveHttp (factory: ServeSessionFactory, spec: HttpServeSpec): Promise<Served> {
  const host = spec.host ?? '127.0.0.1'
  check(typeof host === 'string' && host.length > 0, 'host', spec.host, "an interface address such as '127.0.0.1'")
  const port = intOption('spec.port', spec.port, 0, 0, 65535)
  const path = spec.path ?? '/mcp'
  check(typeof path === 'string' && path.startsWith('/'), 'path', spec.path, "a path starting with '/'")
  check(spec.allowedHosts === undefined || (Array.isArray(spec.allowedHosts) && spec.allowedHosts.every((h) => typeof h === 'string')),
    'allowedHosts', spec.allowedHosts, 'an array of host[:port] strings')

  // The handler needs the bound port (for its Host allow-list): it is attached once listening.
  const http = createMcpHttpServer({ ...(spec.headersTimeoutMs === undefined ? {} : { headersTimeoutMs: spec.headersTimeoutMs }), ...(spec.bodyTimeoutMs === undefined ? {} : { bodyTimeoutMs: spec.bodyTimeoutMs }) })
  await new Promise<void>((resolve, reject) => {
    http.once('error', reject)
    http.listen(port, host, () => { http.off('error', reject); resolve() })
  })
  const bound = (http.address() as AddressInfo).port
  const served = createMcpHttpHandler({
    ...spec,
    route: (p) => (p === path ? factory : undefined),
    allowedHosts: spec.allowedHosts ?? defaultAllowedHosts(host, bound),
  })
  http.on('request', (req, res) => { void served.handle(req, res) })
  const hostPort = host.includes(':') ? `[${host}]:${bound}` : `${host}:${bound}`
  let closed = false
  return {
    url: new URL(`http://${hostPort}${path}`),
    get sessionCount () { return served.sessionCount },
    async close () {
      if (closed) return
      closed = true
      await served.close()
      http.closeAllConnections()
      await new Promise<void>((resolve) => { http.close(() => { resolve() }) })
    },
  }
}
