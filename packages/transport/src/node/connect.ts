import { getDefaultEnvironment, StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js'
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js'
import type { Transport } from '@modelcontextprotocol/sdk/shared/transport.js'
import type { Readable } from 'node:stream'
import { dialMcp } from '../dial.js'
import { noopLogger } from '../logger.js'
import type { ConnectSpec, HttpConnectSpec, Libp2pConnectSpec, MemoryConnectSpec, StdioConnectSpec } from './types.js'
import { check, checkSpec, isObject, isStringRecord } from './validate.js'

/**
 * A client `Transport` for `spec`, ready for `client.connect()`. Invalid specs throw
 * `InvalidParametersError` naming the field (`spec.command`, `spec.url`, …).
 */
export async function connect (spec: ConnectSpec): Promise<Transport> {
  const s = checkSpec(spec)
  switch (s.type) {
    case 'stdio': return connectStdio(s as unknown as StdioConnectSpec)
    case 'http': return connectHttp(s as unknown as HttpConnectSpec)
    case 'libp2p': return connectLibp2p(s as unknown as Libp2pConnectSpec)
    case 'memory': return connectMemory(s as unknown as MemoryConnectSpec)
  }
}

function connectStdio (spec: StdioConnectSpec): Transport {
  check(typeof spec.command === 'string' && spec.command.length > 0, 'command', spec.command, 'a non-empty string (the executable)')
  check(spec.args === undefined || (Array.isArray(spec.args) && spec.args.every((a) => typeof a === 'string')), 'args', spec.args, 'an array of strings')
  check(spec.env === undefined || isStringRecord(spec.env), 'env', spec.env, 'an object of string values')
  check(spec.cwd === undefined || typeof spec.cwd === 'string', 'cwd', spec.cwd, 'a directory path')
  check(spec.onstderr === undefined || typeof spec.onstderr === 'function', 'onstderr', spec.onstderr, 'a function (text) => void')
  const transport = new StdioClientTransport({
    command: spec.command,
    args: spec.args ?? [],
    env: { ...getDefaultEnvironment(), ...spec.env },
    ...(spec.cwd === undefined ? {} : { cwd: spec.cwd }),
    stderr: 'pipe',
  })
  // Always drain stderr: an unread pipe fills up and blocks the child.
  const log = spec.logger ?? noopLogger
  const onstderr = spec.onstderr ?? ((text: string) => { log.debug('stdio server stderr: %s', text.trimEnd()) })
  const stderr = transport.stderr as Readable | null
  stderr?.setEncoding('utf8')
  stderr?.on('data', (text: string) => { onstderr(text) })
  return transport
}

function connectHttp (spec: HttpConnectSpec): Transport {
  let url: URL | undefined
  try { url = new URL(spec.url) } catch { url = undefined }
  check(url !== undefined && (url.protocol === 'http:' || url.protocol === 'https:'), 'url', spec.url, 'an http:// or https:// URL')
  check(spec.headers === undefined || isStringRecord(spec.headers), 'headers', spec.headers, 'an object of string values')
  return new StreamableHTTPClientTransport(url!, spec.headers === undefined ? undefined : { requestInit: { headers: spec.headers } })
}

async function connectLibp2p (spec: Libp2pConnectSpec): Promise<Transport> {
  check(isObject(spec.libp2p) && typeof (spec.libp2p as { dial?: unknown }).dial === 'function', 'libp2p', spec.libp2p, 'a started libp2p node')
  check(spec.peer !== undefined && spec.peer !== null, 'peer', spec.peer, 'a peer id or multiaddr')
  const { type: _type, libp2p, peer, ...options } = spec
  return dialMcp(libp2p, peer, options)
}

async function connectMemory (spec: MemoryConnectSpec): Promise<Transport> {
  check(isObject(spec.server) && typeof spec.server.connect === 'function', 'server', spec.server,
    "what serve(factory, { type: 'memory' }) returned")
  return spec.server.connect()
}
