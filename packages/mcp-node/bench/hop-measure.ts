// Side-by-side latency and throughput of two ways to make the same call, for the hop benchmarks.

/** The p-quantile (0..1) of `xs`. */
export const pct = (xs: number[], p: number): number => { const s = [...xs].sort((x, y) => x - y); return s[Math.min(s.length - 1, Math.floor(p * s.length))]! }

/** A markdown table row: name, p50 ms, p99 ms, calls/s. */
export const row = (name: string, xs: number[], rps: number): string =>
  `| ${name} | ${pct(xs, 0.5).toFixed(3)} | ${pct(xs, 0.99).toFixed(3)} | ${rps.toFixed(0)} |`

async function latencies (call: (i: number) => Promise<void>, n: number): Promise<number[]> {
  const out: number[] = []
  for (let i = 0; i < n; i++) {
    const t = performance.now()
    await call(i)
    out.push(performance.now() - t)
  }
  return out
}

async function throughput (call: (i: number) => Promise<void>, seconds: number, concurrency: number): Promise<number> {
  let done = 0
  const end = performance.now() + seconds * 1000
  await Promise.all(Array.from({ length: concurrency }, async (_, w) => {
    while (performance.now() < end) { await call(w); done++ }
  }))
  return done / seconds
}

/**
 * Warms both up, then times `calls` sequential calls of each in alternating blocks (so drift on
 * a shared machine hits both alike), then `seconds` of each at `concurrency` calls in flight.
 */
export async function sideBySide (direct: (i: number) => Promise<void>, mesh: (i: number) => Promise<void>, o: { calls: number, seconds: number, concurrency: number }): Promise<{ d: number[], m: number[], tDirect: number, tMesh: number }> {
  await latencies(direct, 200)
  await latencies(mesh, 200)
  const d: number[] = []
  const m: number[] = []
  for (let block = 0; block < 4; block++) {
    d.push(...await latencies(direct, o.calls / 4))
    m.push(...await latencies(mesh, o.calls / 4))
  }
  return { d, m, tDirect: await throughput(direct, o.seconds, o.concurrency), tMesh: await throughput(mesh, o.seconds, o.concurrency) }
}
