// The setup file of every vitest run (vitest.config.ts). Every property test runs with a seed that is printed and can be given back:
//   FC_SEED=<seed> npm test        replays a run (FC_NUM_RUNS=<n> sets the run count where a test has none of its own)
// fast-check prints the seed and the path of a failure too; this line also names the seed of a
// file whose properties passed, so that a run can be reproduced or compared.
import fc from 'fast-check'
import { afterAll } from 'vitest'

const fromEnv = process.env.FC_SEED
const seed = fromEnv !== undefined && fromEnv !== '' ? Number(fromEnv) : Math.floor(Math.random() * 0x7fff_ffff)
if (!Number.isSafeInteger(seed)) throw new TypeError(`FC_SEED=${fromEnv} is not an integer seed`)
const numRuns = process.env.FC_NUM_RUNS === undefined ? undefined : Number(process.env.FC_NUM_RUNS)
if (numRuns !== undefined && !(Number.isInteger(numRuns) && numRuns > 0)) throw new TypeError(`FC_NUM_RUNS=${process.env.FC_NUM_RUNS} is not a positive integer`)

let runs = 0
const report = (details: fc.RunDetails<unknown>): void => {
  runs++
  if (details.failed) throw new Error(fc.defaultReportMessage(details) ?? `property failed (seed ${details.seed})`)
}
fc.configureGlobal({
  ...fc.readConfigureGlobal(),
  seed,
  ...(numRuns === undefined ? {} : { numRuns }),
  reporter: report, // used by async properties too
})

afterAll(() => {
  if (runs > 0) process.stdout.write(`fast-check: ${runs} properties ran with seed ${seed} (replay: FC_SEED=${seed})\n`)
})
