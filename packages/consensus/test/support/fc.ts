/** fast-check parameters from the environment (FC_SEED, FC_NUM_RUNS); the seed is printed so that a failure replays. */
export function fcParams (defaultRuns: number, label: string): { seed: number, numRuns: number } {
  const seed = process.env.FC_SEED !== undefined ? Number(process.env.FC_SEED) : (Date.now() ^ (Math.random() * 0x7fffffff)) | 0
  const numRuns = Number(process.env.FC_NUM_RUNS ?? defaultRuns)
  process.stdout.write(`${label}: FC_SEED=${seed} FC_NUM_RUNS=${numRuns}\n`)
  return { seed, numRuns }
}
