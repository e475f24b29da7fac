import type fc from 'fast-check'

/** fast-check parameters: FC_SEED and FC_NUM_RUNS from the environment; the seed is printed so a failure replays. */
export function fcParams (name: string, defaultRuns: number): fc.Parameters<unknown> {
  const seed = process.env.FC_SEED === undefined ? Date.now() ^ (Math.random() * 0x7fffffff) : Number(process.env.FC_SEED)
  const numRuns = process.env.FC_NUM_RUNS === undefined ? defaultRuns : Number(process.env.FC_NUM_RUNS)
  process.stdout.write(`[${name}] FC_SEED=${seed} FC_NUM_RUNS=${numRuns}\n`)
  return { seed, numRuns }
}
