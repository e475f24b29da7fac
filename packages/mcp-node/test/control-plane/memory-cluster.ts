import { MemoryNetwork } from '@p2p-mcp/consensus'
import { decodeRequest, encodeFrame } from '../../src/control-plane/control-codec.js'
import { ControlPlane, type ControlPlaneInit } from '../../src/control-plane/control-plane.js'

/**
 * Control planes in one process: Raft over a MemoryNetwork, the control protocol through a
 * map of handlers (frames still go through the codec), links cut both ways for partitions.
 */
export class MemoryCluster {
  readonly net = new MemoryNetwork()
  readonly planes = new Map<string, ControlPlane>()
  private readonly cut = new Set<string>()
  private readonly down = new Set<string>()

  add (id: string, over: Partial<ControlPlaneInit> = {}, bootstrap: string[] = []): ControlPlane {
    const plane = new ControlPlane({
      self: id,
      hasBootstrap: bootstrap.length > 0,
      joinCandidates: () => [...bootstrap, ...[...this.planes.keys()].filter((p) => p !== id && !bootstrap.includes(p))],
      connected: (p) => this.reachable(id, p),
      link: {
        request: async (peer, req) => {
          if (!this.reachable(id, peer)) throw new Error(`${peer} is unreachable from ${id}`)
          const target = this.planes.get(peer)!
          return await target.handle(decodeRequest(encodeFrame(req)), id)
        },
      },
      raftTransport: this.net.transport(id),
      raftTickMs: 20,
      electionTicks: 10,
      tickIntervalMs: 200,
      stabilizationMs: 1_500,
      deadVoterMs: 2_000,
      timeoutMs: 2_000,
      ...over,
    })
    this.planes.set(id, plane)
    return plane
  }

  reachable (a: string, b: string): boolean {
    return this.planes.has(b) && !this.down.has(a) && !this.down.has(b) && !this.cut.has(`${a}>${b}`)
  }

  /** Cuts every link between the two sides (Raft and control). */
  partition (minority: string[]): void {
    const all = [...this.planes.keys()]
    for (const a of minority) {
      this.net.isolate(a, all.filter((x) => !minority.includes(x)))
      for (const b of all) if (!minority.includes(b)) { this.cut.add(`${a}>${b}`); this.cut.add(`${b}>${a}`) }
    }
  }

  heal (): void { this.net.heal(); this.cut.clear() }

  /** A dead peer: stopped, and unreachable. */
  async kill (id: string): Promise<void> {
    this.down.add(id)
    const all = [...this.planes.keys()]
    this.net.isolate(id, all)
    await this.planes.get(id)!.stop()
  }

  async stop (): Promise<void> {
    await Promise.all([...this.planes.values()].map(async (p) => { await p.stop() }))
  }
}

/** Waits until `check()` is true, polling every 20 ms, or throws naming what it waited for. */
export async function until (what: string, check: () => boolean, timeoutMs = 20_000): Promise<void> {
  const end = Date.now() + timeoutMs
  while (!check()) {
    if (Date.now() > end) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
}
