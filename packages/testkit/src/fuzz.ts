/**
 * Helpers for the decoder fuzz properties (tests titled `decoder fuzz: …`, run at 100,000
 * cases each by `scripts/fuzz.ts`): each case of a decoder either returns or throws one of the
 * error classes the decoder documents, and finishes within a time bound. A decoder reached by a
 * remote party that throws anything else (a TypeError from a missing check, a RangeError from
 * recursion) or takes seconds on one small input is a defect.
 *
 *   FC_NUM_RUNS   cases per property (the tests' own default when unset)
 *   FUZZ_CASE_MS  the bound on one case, ms (default 10000: a hang detector, not a speed test)
 */

/** The longest one case may take before it counts as a hang. */
export function fuzzCaseMs (): number {
  const raw = process.env.FUZZ_CASE_MS
  const ms = raw === undefined || raw === '' ? 10_000 : Number(raw)
  if (!(Number.isFinite(ms) && ms > 0)) throw new TypeError(`FUZZ_CASE_MS=${raw} is not a positive number of milliseconds`)
  return ms
}

/** Cases per property: FC_NUM_RUNS, else `defaultRuns`. */
export function fuzzRuns (defaultRuns: number): number {
  const raw = process.env.FC_NUM_RUNS
  if (raw === undefined || raw === '') return defaultRuns
  const n = Number(raw)
  if (!(Number.isInteger(n) && n > 0)) throw new TypeError(`FC_NUM_RUNS=${raw} is not a positive integer`)
  return n
}

/** Thrown by `typedOutcome` for a case that broke the decoder's contract. */
export class FuzzContractError extends Error {
  override name = 'FuzzContractError'
}

function judge (allowed: readonly string[], err: unknown, started: number, what: string): string {
  const ms = performance.now() - started
  const bound = fuzzCaseMs()
  if (ms > bound) throw new FuzzContractError(`${what}: one case took ${Math.round(ms)} ms, over FUZZ_CASE_MS ${bound}`)
  if (err === undefined) return 'ok'
  const name = err instanceof Error ? err.name : typeof err
  if (!allowed.includes(name)) {
    throw new FuzzContractError(`${what}: threw ${name} (${err instanceof Error ? err.message : JSON.stringify(err)}), not one of ${allowed.join(', ')}`, { cause: err })
  }
  return name
}

/**
 * Runs one case of a synchronous decoder. Returns `'ok'` or the name of the allowed error it
 * threw; throws `FuzzContractError` for any other error, or when the case ran over the bound.
 */
export function typedOutcome (what: string, allowed: readonly string[], decode: () => unknown): string {
  const started = performance.now()
  try {
    decode()
  } catch (err) {
    return judge(allowed, err ?? new Error('threw undefined'), started, what)
  }
  return judge(allowed, undefined, started, what)
}

/** `typedOutcome` for an asynchronous decoder. */
export async function typedOutcomeAsync (what: string, allowed: readonly string[], decode: () => Promise<unknown>): Promise<string> {
  const started = performance.now()
  try {
    await decode()
  } catch (err) {
    return judge(allowed, err ?? new Error('threw undefined'), started, what)
  }
  return judge(allowed, undefined, started, what)
}

/** Counts outcomes of one property and prints them once (a line the fuzz script collects). */
export function outcomeTally (what: string): { add: (outcome: string) => void, print: () => void } {
  const counts: Record<string, number> = {}
  return {
    add: (outcome) => { counts[outcome] = (counts[outcome] ?? 0) + 1 },
    print: () => { process.stdout.write(`decoder-fuzz-outcomes ${JSON.stringify({ what, counts })}\n`) },
  }
}
