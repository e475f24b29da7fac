import { chmod, mkdir, readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { generateKeyPair, privateKeyFromProtobuf, privateKeyToProtobuf } from '@libp2p/crypto/keys'
import type { PrivateKey } from '@libp2p/interface'
import { ConfigError, errorMessage } from './errors.js'

/** File in the data directory that holds the peer's private key (protobuf, mode 0600). */
export const PEER_KEY_FILE = 'peer.key'
/** Directory in the data directory that holds the libp2p datastore. */
export const DATASTORE_DIR = 'datastore'

/** The peer key kept in `dataDir` (created on first start), so the peer id survives restarts. */
export async function loadOrCreateKey (dataDir: string): Promise<PrivateKey> {
  try {
    await mkdir(dataDir, { recursive: true, mode: 0o700 })
  } catch (err) {
    throw new ConfigError('dataDir', `cannot create the directory ${dataDir}: ${errorMessage(err)}; choose a path whose parents are directories`, { cause: err })
  }
  const file = join(dataDir, PEER_KEY_FILE)
  let bytes: Uint8Array | undefined
  try {
    bytes = await readFile(file)
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw new ConfigError('dataDir', `cannot read ${file}: ${errorMessage(err)}`, { cause: err })
  }
  if (bytes !== undefined) {
    try {
      return privateKeyFromProtobuf(bytes)
    } catch (err) {
      throw new ConfigError('dataDir', `${file} does not hold a libp2p private key (${errorMessage(err)}); move it away to create a new identity`, { cause: err })
    }
  }
  const key = await generateKeyPair('Ed25519')
  await writeFile(file, privateKeyToProtobuf(key), { mode: 0o600, flag: 'wx' })
  await chmod(file, 0o600)
  return key
}

/**
 * Reads a libp2p private-network key: the swarm key text itself
 * (`/key/swarm/psk/1.0.0/`, `/base16/`, 64 hex characters) or the path of a file holding it.
 */
export async function loadPsk (value: string): Promise<Uint8Array> {
  const text = value.startsWith('/key/swarm/psk/1.0.0/') ? value : await readFile(value, 'utf8').catch((err: unknown) => {
    throw new ConfigError('psk', `cannot read the swarm key file ${value}: ${errorMessage(err)}`, { cause: err })
  })
  const lines = text.trim().split(/\r?\n/)
  if (lines[0] !== '/key/swarm/psk/1.0.0/' || lines[1] !== '/base16/' || !/^[0-9a-fA-F]{64}$/.test(lines[2] ?? '')) {
    throw new ConfigError('psk', 'expected a swarm key: "/key/swarm/psk/1.0.0/", "/base16/", then 64 hex characters, on three lines (create one with `p2p-mcp keygen-psk`)')
  }
  return new TextEncoder().encode(`${lines.join('\n')}\n`)
}

/** True for multiaddrs on a loopback interface (127.0.0.0/8, ::1) or in memory. */
export function isLoopbackAddr (addr: string): boolean {
  return /^\/ip4\/127\.\d+\.\d+\.\d+\//.test(addr) || addr.startsWith('/ip6/::1/') || addr.startsWith('/memory/') ||
    /^\/dns4?\/localhost\//.test(addr)
}
