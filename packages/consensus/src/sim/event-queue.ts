export interface SimEvent { time: number, seq: number, run: () => void }

/** A binary min-heap of events ordered by (time, seq): ties run in scheduling order. */
export class EventQueue {
  private readonly h: SimEvent[] = []
  get size (): number { return this.h.length }
  push (e: SimEvent): void {
    const h = this.h
    h.push(e)
    let i = h.length - 1
    while (i > 0) {
      const p = (i - 1) >> 1
      if (less(h[p]!, h[i]!)) break
      ;[h[p], h[i]] = [h[i]!, h[p]!]
      i = p
    }
  }

  pop (): SimEvent | undefined {
    const h = this.h
    const top = h[0]
    const last = h.pop()
    if (h.length > 0 && last !== undefined) {
      h[0] = last
      let i = 0
      for (;;) {
        const l = 2 * i + 1
        const r = l + 1
        let m = i
        if (l < h.length && less(h[l]!, h[m]!)) m = l
        if (r < h.length && less(h[r]!, h[m]!)) m = r
        if (m === i) break
        ;[h[m], h[i]] = [h[i]!, h[m]!]
        i = m
      }
    }
    return top
  }
}
function less (a: SimEvent, b: SimEvent): boolean { return a.time < b.time || (a.time === b.time && a.seq < b.seq) }
