/**
 * The highest sequence number accepted per peer, so that a replayed older record is refused even
 * after its provider left the cache. Bounded: the least recently updated peer is forgotten first.
 */
export class SequenceBook {
  private readonly highest = new Map<string, number>()
  private readonly maxPeers: number

  constructor (maxPeers: number) {
    this.maxPeers = maxPeers
  }

  get (peerId: string): number | undefined {
    return this.highest.get(peerId)
  }

  /** Records `seq` when it is not lower than what is known; returns false (and keeps the old value) when it is. */
  offer (peerId: string, seq: number): boolean {
    const known = this.highest.get(peerId)
    if (known !== undefined && seq < known) return false
    // delete + set moves the peer to the end of the map's insertion order (most recent)
    this.highest.delete(peerId)
    this.highest.set(peerId, seq)
    if (this.highest.size > this.maxPeers) {
      const oldest = this.highest.keys().next().value
      if (oldest !== undefined) this.highest.delete(oldest)
    }
    return true
  }

  get size (): number {
    return this.highest.size
  }
}
