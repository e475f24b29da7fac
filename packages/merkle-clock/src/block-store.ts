import type { CID } from 'multiformats/cid'
import type { BlockStore } from './types.js'

/** The default block store: a Map from CID string to block bytes, held in memory. */
export class MemoryBlockStore implements BlockStore {
  readonly #blocks = new Map<string, Uint8Array>()

  get (cid: CID): Uint8Array | undefined {
    return this.#blocks.get(cid.toString())
  }

  put (cid: CID, bytes: Uint8Array): void {
    this.#blocks.set(cid.toString(), bytes)
  }

  has (cid: CID): boolean {
    return this.#blocks.has(cid.toString())
  }

  /** Number of blocks held. */
  get size (): number {
    return this.#blocks.size
  }
}
