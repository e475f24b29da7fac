// The long decoder fuzz (issue 17): every property titled `decoder fuzz: …` in the packages'
// tests — the decoders a remote party reaches — at 100,000 cases each, one test file at a time.
// `npm test` runs the same properties with their own small counts.
//
//   node scripts/fuzz.ts [--runs 100000] [--seed <int>] [--case-ms 10000] [--only <file substring>] [--file-timeout-min 40]
//
// Each case must return or throw one of the error classes its test names, within --case-ms
// (FUZZ_CASE_MS: a hang detector, not a speed test); a file that does not finish within
// --file-timeout-min is killed and reported as a hang. Prints the seed (replay with --seed),
// and per property: cases, seconds, outcomes; writes .bench-results/fuzz-<seed>-<time>.json.
import { spawn } from 'node:child_process'
import { mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { cpus, loadavg, tmpdir } from 'node:os'
import { join, relative } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'

const { values } = parseArgs({
  options: {
    runs: { type: 'string', default: '100000' }, seed: { type: 'string' }, 'case-ms': { type: 'string', default: '10000' },
    only: { type: 'string' }, 'file-timeout-min': { type: 'string', default: '40' },
  },
})
const runs = Number(values.runs)
const seed = values.seed === undefined ? Math.floor(Math.random() * 0x7fff_ffff) : Number(values.seed)
const caseMs = Number(values['case-ms'])
const fileTimeoutMs = Number(values['file-timeout-min']) * 60_000
if (!(Number.isInteger(runs) && runs > 0)) throw new TypeError(`--runs ${values.runs} is not a positive integer`)
if (!Number.isSafeInteger(seed)) throw new TypeError(`--seed ${values.seed} is not an integer`)
if (!(caseMs > 0) || !(fileTimeoutMs > 0)) throw new TypeError('--case-ms and --file-timeout-min are positive numbers')

const root = fileURLToPath(new URL('..', import.meta.url))
const vitest = join(root, 'node_modules', 'vitest', 'vitest.mjs')
const out = (s: string): void => { process.stdout.write(`${s}\n`) }

/** Test files under packages/<pkg>/test with at least one `decoder fuzz:` property. */
function fuzzFiles (): string[] {
  const files: string[] = []
  const walk = (dir: string): void => {
    for (const name of readdirSync(dir)) {
      const p = join(dir, name)
      if (statSync(p).isDirectory()) { if (name !== 'node_modules' && name !== 'integration') walk(p) } else if (name.endsWith('.test.ts') && readFileSync(p, 'utf8').includes("'decoder fuzz: ")) files.push(p)
    }
  }
  for (const pkg of readdirSync(join(root, 'packages'))) {
    const dir = join(root, 'packages', pkg, 'test')
    try { statSync(dir) } catch { continue }
    walk(dir)
  }
  return files.filter((f) => values.only === undefined || f.includes(values.only)).sort()
}

interface Property { file: string, title: string, status: string, seconds: number, cases: number, outcomes?: Record<string, number>, failure?: string }

async function runFile (file: string): Promise<{ properties: Property[], hung: boolean, stderr: string }> {
  const report = join(tmpdir(), `fuzz-report-${process.pid}-${Date.now()}.json`)
  const args = [vitest, 'run', '--project', 'unit', '-t', 'decoder fuzz', '--testTimeout', String(fileTimeoutMs), '--reporter', 'default', '--reporter', 'json', '--outputFile.json', report, relative(root, file)]
  const child = spawn(process.execPath, args, { cwd: root, env: { ...process.env, FC_NUM_RUNS: String(runs), FC_SEED: String(seed), FUZZ_CASE_MS: String(caseMs) }, stdio: ['ignore', 'pipe', 'pipe'] })
  let stdout = ''
  let stderr = ''
  child.stdout.setEncoding('utf8').on('data', (s: string) => { stdout += s })
  child.stderr.setEncoding('utf8').on('data', (s: string) => { stderr += s })
  let hung = false
  const timer = setTimeout(() => { hung = true; child.kill('SIGKILL') }, fileTimeoutMs + 60_000)
  await new Promise<void>((resolve) => { child.once('exit', () => { resolve() }) })
  clearTimeout(timer)
  const outcomes = new Map<string, Record<string, number>>()
  for (const m of stdout.matchAll(/^decoder-fuzz-outcomes (.+)$/gm)) {
    const o = JSON.parse(m[1]!) as { what: string, counts: Record<string, number> }
    outcomes.set(o.what, o.counts)
  }
  const properties: Property[] = []
  try {
    const json = JSON.parse(readFileSync(report, 'utf8')) as { testResults: Array<{ assertionResults: Array<{ title: string, status: string, duration?: number, failureMessages?: string[] }> }> }
    for (const r of json.testResults) {
      for (const a of r.assertionResults) {
        if (a.status === 'skipped' || a.status === 'pending' || !a.title.startsWith('decoder fuzz: ')) continue
        const what = [...outcomes.keys()].find((w) => a.title.startsWith(`decoder fuzz: ${w} —`))
        properties.push({
          file: relative(root, file), title: a.title, status: a.status, seconds: Math.round((a.duration ?? 0) / 100) / 10, cases: runs,
          ...(what === undefined ? {} : { outcomes: outcomes.get(what) }),
          ...(a.failureMessages?.length ? { failure: a.failureMessages.join('\n').slice(0, 2000) } : {}),
        })
      }
    }
  } catch {
    // no report: the run crashed or hung; stderr says why
  } finally {
    rmSync(report, { force: true })
  }
  return { properties, hung, stderr }
}

const files = fuzzFiles()
const load0 = loadavg()
out(`decoder fuzz: ${files.length} files, ${runs} cases per property, seed ${seed} (replay: --seed ${seed}), case bound ${caseMs} ms, ${cpus().length} CPUs, load ${load0.map((x) => x.toFixed(2)).join(' ')}`)
const all: Property[] = []
const problems: string[] = []
const t0 = Date.now()
for (const file of files) {
  const started = Date.now()
  const { properties, hung, stderr } = await runFile(file)
  all.push(...properties)
  if (hung) problems.push(`${relative(root, file)}: did not finish within ${fileTimeoutMs / 60_000} min (a hang)`)
  else if (properties.length === 0) problems.push(`${relative(root, file)}: no result (${stderr.trim().split('\n').slice(-3).join(' / ')})`)
  for (const p of properties) {
    out(`${p.status === 'passed' ? 'ok  ' : 'FAIL'} ${p.seconds.toFixed(1).padStart(7)} s  ${p.cases} cases  ${p.title}${p.outcomes === undefined ? '' : `  ${JSON.stringify(p.outcomes)}`}`)
    if (p.failure !== undefined) { out(p.failure); problems.push(`${p.file}: ${p.title}`) }
  }
  out(`  (${relative(root, file)}: ${((Date.now() - started) / 1000).toFixed(0)} s)`)
}
const result = {
  date: new Date().toISOString(), node: process.version, cpus: cpus().length, seed, casesPerProperty: runs, caseBoundMs: caseMs,
  loadAverage: { start: load0.map((x) => +x.toFixed(2)), end: loadavg().map((x) => +x.toFixed(2)) },
  totalSeconds: Math.round((Date.now() - t0) / 1000), properties: all, problems,
}
mkdirSync(join(root, '.bench-results'), { recursive: true })
const file = join(root, '.bench-results', `fuzz-${seed}-${Date.now()}.json`)
writeFileSync(file, `${JSON.stringify(result, null, 2)}\n`)
out(`${all.length} properties, ${all.filter((p) => p.status === 'passed').length} passed, ${problems.length} problems, ${result.totalSeconds} s, load ${result.loadAverage.end.join(' ')}; written to ${file}`)
for (const p of problems) out(`problem: ${p}`)
process.exit(problems.length === 0 ? 0 : 1)
