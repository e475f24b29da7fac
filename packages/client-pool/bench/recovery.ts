// Times of the two recovery scenarios of issue 17 (items 8 and 9), replicas as real child
// processes over stdio (test/recovery-scenarios.ts):
// - restart: replica b is SIGKILLed under load, restarted once unhealthy; time from its
//   first passing health check to the first call it answers, and sticky scopes back on it;
// - freeze: replica b is SIGSTOPped for FREEZE_MS (10 s) under a mixed load; how long the
//   calls in flight on it waited, and how the non-idempotent ones ended.
//
//   node --import ./packages/testkit/src/ts-hooks.ts packages/client-pool/bench/recovery.ts
//   RUNS=3 FREEZE_MS=10000 POOL=/path/to/other/client-pool/src/index.ts node --import ... (compare another build)
import { availableParallelism, loadavg } from 'node:os'
import { pathToFileURL } from 'node:url'
import { freezeScenario, restartScenario } from '../test/recovery-scenarios.js'
import type { CreatePool } from '../test/recovery-scenarios.js'

const RUNS = Number(process.env.RUNS ?? 3)
const FREEZE_MS = Number(process.env.FREEZE_MS ?? 10_000)
const ONLY = process.env.ONLY
const create = process.env.POOL === undefined
  ? undefined
  : ((await import(pathToFileURL(process.env.POOL).href)) as { createClientPool: CreatePool }).createClientPool

const out = (line: string): void => { process.stdout.write(`${line}\n`) }
out(`# recovery bench, ${new Date().toISOString()}, node ${process.version}, ${availableParallelism()} cpus, load ${loadavg().map((l) => l.toFixed(2)).join(' ')}`)
out(`# pool: ${process.env.POOL ?? 'this build (src)'}`)

if (ONLY === undefined || ONLY === 'restart') {
  for (let i = 0; i < RUNS; i++) {
    const r = await restartScenario({}, { scopes: 6, waitMs: 90_000, create })
    out(`restart run ${i + 1}${r.ejected ? ' (b ejected)' : ' (b not ejected)'}: restart→first passing health check ${r.restartToHealthyMs.toFixed(0)} ms, ` +
      `health check→first call answered by b ${r.healthyToTrafficMs.toFixed(0)} ms, sticky scopes on b ${r.scopesOnB}/${r.scopes}, failed calls ${r.failed}${r.errors.length === 0 ? '' : ` (${r.errors.join(' | ')})`}`)
  }
}
if (ONLY === undefined || ONLY === 'freeze') {
  for (let i = 0; i < RUNS; i++) {
    const r = await freezeScenario({}, { freezeMs: FREEZE_MS, create })
    out(`freeze run ${i + 1} (${FREEZE_MS} ms): read-only in flight ${r.safeInFlight}, longest wait ${r.safeMaxWaitMs.toFixed(0)} ms, ` +
      `ended before the thaw ${r.safeEndedBeforeThaw}, failed ${r.safeFailed}; non-idempotent in flight ${r.unsafeInFlight}, longest wait ` +
      `${r.unsafeMaxWaitMs.toFixed(0)} ms, ok ${r.unsafeOk}, failures ${JSON.stringify(r.unsafeFailures)}, run twice ${r.duplicated}, ok but not run ${r.missing}`)
  }
}
out(`# load at the end ${loadavg().map((l) => l.toFixed(2)).join(' ')}`)
