#!/usr/bin/env node
// The two-command quick start (`npm start`, `npm test`) goes through this script.
// It must run on any Node that ships npm (the machines here have Node 20), so it uses
// nothing but Node's standard library and syntax that Node 16 understands.
//
//   node scripts/bootstrap.mjs <task> [args...]
//
// 1. Find a toolchain: the Node on PATH if it satisfies the workspace (>= 22.19) and a
//    pnpm of the pinned version is on PATH; otherwise install Node 24 and the pinned
//    pnpm from the npm registry into .tools/ (git-ignored) and use those.
// 2. Install with a frozen lockfile (skipped when the lockfile has not changed since
//    the last install) and build the packages.
// 3. Run the task: a script of the root package.json, named `<task>:run`. A script that is
//    just `node <file>` (npm start, npm run p2p-mcp) runs as a child of this process, with
//    signals handed on (see runDirect below); the others run through pnpm.
//
// Install and build output goes to stderr, so that stdout carries only the task's output
// (`npm run -s p2p-mcp -- keygen-psk > swarm.key`).
/* global setInterval, clearInterval */
import { spawn, spawnSync } from 'node:child_process'
import { createHash } from 'node:crypto'
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs'
import { delimiter, dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

const ROOT = dirname(dirname(fileURLToPath(import.meta.url)))
const TOOLS = join(ROOT, '.tools')
const MIN_NODE = [22, 19, 0]
const NODE_MAJOR = 24
const rootPkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8'))
const PNPM_VERSION = String(rootPkg.packageManager || '').replace(/^pnpm@/, '').split('+')[0]

const [task, ...taskArgs] = process.argv.slice(2)
if (!task) fail('usage: node scripts/bootstrap.mjs <task> [args...]')
if (!rootPkg.scripts || !rootPkg.scripts[task + ':run']) {
  fail('unknown task "' + task + '": package.json has no script "' + task + ':run"')
}

function fail (message) {
  process.stderr.write('bootstrap: ' + message + '\n')
  process.exit(1)
}

function say (message) {
  process.stderr.write('bootstrap: ' + message + '\n')
}

function versionAtLeast (version, min) {
  const parts = version.replace(/^v/, '').split('.').map(Number)
  for (let i = 0; i < min.length; i++) {
    if ((parts[i] || 0) !== min[i]) return (parts[i] || 0) > min[i]
  }
  return true
}

// npm passes its own configuration down as npm_config_* variables; pnpm would read them
// as its own and warn about (or act on) npm-only settings, so the toolchain gets a clean env.
function cleanEnv (extraPath) {
  const env = {}
  for (const [k, v] of Object.entries(process.env)) {
    if (/^npm_/i.test(k)) continue
    env[k] = v
  }
  if (extraPath) env.PATH = extraPath + delimiter + (env.PATH || '')
  return env
}

function run (cmd, args, opts) {
  const r = spawnSync(cmd, args, { stdio: ['inherit', 2, 'inherit'], cwd: ROOT, ...opts })
  if (r.error) fail('could not run ' + cmd + ': ' + r.error.message)
  return r.status === null ? 1 : r.status
}

function capture (cmd, args, env) {
  const r = spawnSync(cmd, args, { cwd: ROOT, env, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] })
  return r.status === 0 ? r.stdout.trim() : undefined
}

function npmInstall (prefix, spec) {
  mkdirSync(prefix, { recursive: true })
  // A package.json of its own keeps npm from walking up into the workspace.
  writeFileSync(join(prefix, 'package.json'), '{ "private": true }\n')
  const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm'
  const status = run(npm, ['install', '--prefix', prefix, '--no-save', '--no-audit', '--no-fund',
    '--loglevel=error', '--ignore-scripts', spec], { env: cleanEnv(), stdio: ['ignore', 'ignore', 'inherit'] })
  if (status !== 0) fail('npm install ' + spec + ' failed (exit ' + status + '); the npm registry must be reachable')
}

function nodePlatformPackage () {
  const os = { linux: 'linux', darwin: 'darwin', win32: 'win' }[process.platform]
  if (!os) fail('no Node ' + NODE_MAJOR + ' package on the npm registry for platform ' + process.platform + '; install Node >= 22.19 yourself')
  return 'node-' + os + '-' + process.arch
}

function findToolchain () {
  const systemOk = versionAtLeast(process.version, MIN_NODE)
  if (systemOk) {
    const pnpmVersion = capture('pnpm', ['--version'], cleanEnv())
    if (pnpmVersion === PNPM_VERSION) return { node: process.execPath, pnpm: ['pnpm'], binPath: undefined }
  }
  // Node 24 from its platform package: it carries the binary and needs no install script.
  const pkg = nodePlatformPackage()
  const nodeDir = join(TOOLS, 'node')
  const exe = process.platform === 'win32' ? 'node.exe' : join('bin', 'node')
  let node = process.execPath
  let binPath
  if (!systemOk) {
    node = join(nodeDir, 'node_modules', pkg, exe)
    const have = existsSync(node) ? capture(node, ['--version']) : undefined
    if (!have || !versionAtLeast(have, MIN_NODE)) {
      say('Node ' + process.version + ' is older than the workspace needs (22.19); installing Node ' + NODE_MAJOR + ' and pnpm ' + PNPM_VERSION + ' into .tools/')
      npmInstall(nodeDir, pkg + '@' + NODE_MAJOR)
      if (!existsSync(node)) fail('installed ' + pkg + '@' + NODE_MAJOR + ' but found no binary at ' + node)
    }
    binPath = dirname(node)
  }
  const pnpmCli = join(TOOLS, 'pnpm', 'node_modules', 'pnpm', 'bin', 'pnpm.cjs')
  const pnpmPkg = join(TOOLS, 'pnpm', 'node_modules', 'pnpm', 'package.json')
  const havePnpm = existsSync(pnpmPkg) ? JSON.parse(readFileSync(pnpmPkg, 'utf8')).version : undefined
  if (havePnpm !== PNPM_VERSION) {
    if (systemOk) say('pnpm ' + PNPM_VERSION + ' is not on PATH; installing it into .tools/')
    npmInstall(join(TOOLS, 'pnpm'), 'pnpm@' + PNPM_VERSION)
  }
  // Put a `pnpm` shim on PATH too, so that scripts that call pnpm get the pinned one.
  const shimDir = join(TOOLS, 'bin')
  mkdirSync(shimDir, { recursive: true })
  writeFileSync(join(shimDir, 'pnpm'), '#!/bin/sh\nexec "' + node + '" "' + pnpmCli + '" "$@"\n', { mode: 0o755 })
  binPath = binPath ? binPath + delimiter + shimDir : shimDir
  return { node, pnpm: [node, pnpmCli], binPath }
}

const tc = findToolchain()
const env = cleanEnv(tc.binPath)
// Install and build write to stderr; the task itself (the last call) to stdout.
const pnpm = (args, stdio = ['inherit', 2, 'inherit']) => run(tc.pnpm[0], tc.pnpm.slice(1).concat(args), { env, stdio })

// Install only when the lockfile or a manifest changed since the last successful install.
const stampFile = join(ROOT, 'node_modules', '.bootstrap-stamp')
const manifests = ['pnpm-lock.yaml', 'package.json', 'pnpm-workspace.yaml']
const hash = createHash('sha256')
for (const f of manifests) hash.update(existsSync(join(ROOT, f)) ? readFileSync(join(ROOT, f)) : '')
for (const dir of ['packages', 'examples']) {
  const listing = capture('git', ['ls-files', '--', dir + '/*/package.json'], env)
  for (const f of (listing || '').split('\n').filter(Boolean)) hash.update(f).update(readFileSync(join(ROOT, f)))
}
const digest = hash.digest('hex')
if (!existsSync(stampFile) || readFileSync(stampFile, 'utf8') !== digest) {
  if (pnpm(['install', '--frozen-lockfile', '--reporter=append-only']) !== 0) fail('pnpm install --frozen-lockfile failed')
  writeFileSync(stampFile, digest)
}
// Build unless every package's dist is newer than its sources and manifest (so that
// `npm run lint` right after `npm test` does not build twice).
function newestMtime (path) {
  const st = statSync(path)
  if (!st.isDirectory()) return st.mtimeMs
  let newest = st.mtimeMs
  for (const entry of readdirSync(path)) newest = Math.max(newest, newestMtime(join(path, entry)))
  return newest
}
function buildIsFresh () {
  const packagesDir = join(ROOT, 'packages')
  if (!existsSync(packagesDir)) return true
  for (const name of readdirSync(packagesDir)) {
    const dir = join(packagesDir, name)
    const manifest = join(dir, 'package.json')
    if (!existsSync(manifest) || !JSON.parse(readFileSync(manifest, 'utf8')).scripts?.build) continue
    const dist = join(dir, 'dist')
    if (!existsSync(dist)) return false
    const built = Math.min(...readdirSync(dist).map((f) => statSync(join(dist, f)).mtimeMs))
    const inputs = [join(dir, 'src'), manifest, join(dir, 'tsup.config.ts')].filter((f) => existsSync(f))
    if (Math.max(...inputs.map(newestMtime)) > built) return false
  }
  return true
}
if (task !== 'build' && !buildIsFresh() && pnpm(['run', 'build:run']) !== 0) fail('the build failed')

// `npm start` and `npm run p2p-mcp` run long and are stopped by signals. Every signal that
// stops this process must stop the whole tree, once:
// - the child runs in a process group of its own, so that Ctrl-C (which the terminal sends
//   to npm, its shell and this process) reaches it once, from here, not a second time
//   from the terminal;
// - SIGINT, SIGTERM and SIGHUP are handed on; the copies that arrive within a moment of
//   each other (npm forwards what the terminal also sent) count as one, so that one Ctrl-C
//   is one graceful stop and a second Ctrl-C later is the child's "stop now";
// - npm answers SIGTERM by killing the shell it ran this script in and exiting, without
//   telling this process: when the parent is gone, the child gets SIGTERM.
// The child's exit code is this process's exit code: 0 on a clean stop, so no ELIFECYCLE.
function runDirect (file, args) {
  const child = spawn(tc.node, [join(ROOT, file)].concat(args), {
    stdio: 'inherit', env, cwd: process.env.INIT_CWD || process.cwd(), detached: process.platform !== 'win32',
  })
  let lastSignalAt = 0
  const handOn = (signal) => {
    const now = Date.now()
    if (now - lastSignalAt < 1000) return
    lastSignalAt = now
    if (child.exitCode === null && child.signalCode === null) child.kill(signal)
  }
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP']) process.on(signal, () => handOn(signal))
  const parent = process.ppid
  const watch = setInterval(() => {
    try { process.kill(parent, 0) } catch { clearInterval(watch); handOn('SIGTERM') }
  }, 500)
  child.on('error', (err) => fail('could not run ' + file + ': ' + err.message))
  child.on('exit', (code, signal) => {
    clearInterval(watch)
    process.exit(code === null ? (signal === 'SIGINT' || signal === 'SIGTERM' ? 0 : 1) : code)
  })
}

const script = rootPkg.scripts[task + ':run']
const direct = /^node ([\w./-]+)$/.exec(script)
if (direct) runDirect(direct[1], taskArgs)
else process.exit(pnpm(['run', task + ':run'].concat(taskArgs), 'inherit'))
