// `npm run release:dry-run`: everything a release does except `publish`, on a fresh clone of
// the committed tree (HEAD), so that the working tree is never touched:
//
//   1. clone, install (frozen lockfile), `changeset version` (the pending changesets bump
//      versions and write changelogs), build;
//   2. for every published package: publint (strict), `pnpm pack` (which turns `catalog:`
//      and `workspace:` into versions), then checks of the tarball: no `catalog:` or
//      `workspace:` left, LICENSE and README in it, and @arethetypeswrong/cli with the
//      esm-only profile on it;
//   3. a fresh folder outside the workspace: `npm install` of the tarballs (and the peer
//      dependencies their READMEs name), then a smoke test that imports every package,
//      runs the `mcp-node` embedding example of its README as published, and runs the
//      `p2p-mcp` command from the installed bin.
//
// Runs on the Node the bootstrap picked (24 on a machine whose Node is older); `--keep`
// keeps the temporary folder and prints where it is.
import { spawnSync } from 'node:child_process'
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

const ROOT = dirname(dirname(fileURLToPath(import.meta.url)))
const keep = process.argv.includes('--keep')
const work = mkdtempSync(join(tmpdir(), 'p2p-mcp-release-'))
const repo = join(work, 'repo')
const tarballs = join(work, 'tarballs')
const app = join(work, 'app')
const failures = []
const say = (s) => process.stdout.write(`${s}\n`)

function run (cmd, args, cwd, { capture = false, allowFail = false } = {}) {
  const r = spawnSync(cmd, args, { cwd, encoding: 'utf8', stdio: capture ? ['ignore', 'pipe', 'pipe'] : ['ignore', 2, 2] })
  if (r.error) throw new Error(`${cmd}: ${r.error.message}`)
  if (r.status !== 0 && !allowFail) {
    throw new Error(`${cmd} ${args.join(' ')} (in ${cwd}) exited ${r.status}${capture ? `:\n${r.stdout}${r.stderr}` : ''}`)
  }
  return r
}

function check (ok, what) {
  say(`  ${ok ? 'ok  ' : 'FAIL'} ${what}`)
  if (!ok) failures.push(what)
}

const pnpm = 'pnpm'
const catalog = Object.fromEntries([...readFileSync(join(ROOT, 'pnpm-workspace.yaml'), 'utf8').matchAll(/^ {2}'?([@\w/.-]+)'?: ([\d.]+)$/gm)].map((m) => [m[1], m[2]]))

try {
  say(`release dry run on Node ${process.version}, in ${work}`)
  run('git', ['clone', '--quiet', ROOT, repo], work)
  const head = run('git', ['rev-parse', '--short', 'HEAD'], repo, { capture: true }).stdout.trim()
  say(`1. clone of ${head}: install, changeset version, build`)
  run(pnpm, ['install', '--frozen-lockfile', '--prefer-offline', '--reporter=append-only'], repo)
  run(pnpm, ['exec', 'changeset', 'version'], repo)
  run(pnpm, ['-r', '--filter', './packages/**', 'run', 'build'], repo)

  const packages = readdirSync(join(repo, 'packages'))
    .map((name) => ({ dir: join(repo, 'packages', name), manifest: JSON.parse(readFileSync(join(repo, 'packages', name, 'package.json'), 'utf8')) }))
    .filter((p) => p.manifest.private !== true)
  say(`2. ${packages.length} packages: publint, pnpm pack, the tarball's manifest and files, arethetypeswrong (esm-only)`)
  mkdirSync(tarballs)
  const packed = []
  for (const p of packages) {
    const { name, version } = p.manifest
    say(`${name}@${version}`)
    const lint = run(pnpm, ['exec', 'publint', '--strict', p.dir], repo, { capture: true, allowFail: true })
    check(lint.status === 0, `publint --strict${lint.status === 0 ? '' : `:\n${lint.stdout}${lint.stderr}`}`)
    const before = new Set(readdirSync(tarballs))
    run(pnpm, ['pack', '--pack-destination', tarballs], p.dir, { capture: true })
    const tgz = join(tarballs, readdirSync(tarballs).find((f) => !before.has(f)))
    packed.push({ name, version, tgz })
    const files = run('tar', ['-tzf', tgz], work, { capture: true }).stdout.split('\n')
    check(files.includes('package/LICENSE') && files.includes('package/README.md'), 'LICENSE and README.md in the tarball')
    const manifest = run('tar', ['-xzOf', tgz, 'package/package.json'], work, { capture: true }).stdout
    check(!/"(catalog|workspace):/.test(manifest), 'no catalog: or workspace: left in the packed package.json')
    const attw = run(pnpm, ['exec', 'attw', tgz, '--profile', 'esm-only', '--format', 'table-flipped'], repo, { capture: true, allowFail: true })
    check(attw.status === 0, `@arethetypeswrong/cli --profile esm-only${attw.status === 0 ? '' : `:\n${attw.stdout}${attw.stderr}`}`)
  }

  say('3. a fresh folder: npm install of the tarballs, import every package, the mcp-node embedding example, the p2p-mcp bin')
  mkdirSync(app)
  writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'release-smoke', private: true, type: 'module' }, null, 2))
  const peers = ['@modelcontextprotocol/sdk', 'zod'].map((n) => `${n}@${catalog[n]}`)
  run('npm', ['install', '--no-audit', '--no-fund', '--loglevel=error', ...packed.map((p) => p.tgz), ...peers], app)
  const imports = packed.map((p, i) => `import * as m${i} from '${p.name}'\nconsole.log('${p.name}: ' + Object.keys(m${i}).length + ' exports')`).join('\n')
  writeFileSync(join(app, 'imports.mjs'), imports)
  const imported = run(process.execPath, ['imports.mjs'], app, { capture: true, allowFail: true })
  say(imported.stdout.trimEnd().replace(/^/gm, '  '))
  check(imported.status === 0, `every package imports${imported.status === 0 ? '' : `:\n${imported.stderr}`}`)
  const readme = readFileSync(join(app, 'node_modules', '@p2p-mcp', 'mcp-node', 'README.md'), 'utf8')
  const example = /^## Usage[\s\S]*?^```ts\n([\s\S]*?)^```$/m.exec(readme)?.[1]
  check(example !== undefined, 'the mcp-node README (as published) has its embedding example')
  if (example !== undefined) {
    writeFileSync(join(app, 'embed.mts'), example)
    const embedded = run(process.execPath, ['embed.mts'], app, { capture: true, allowFail: true })
    say(embedded.stdout.trimEnd().replace(/^/gm, '  '))
    check(embedded.status === 0 && /local__add|text: '5'|"5"/.test(embedded.stdout), `the embedding example runs${embedded.status === 0 ? '' : `:\n${embedded.stderr}`}`)
  }
  const help = run(join(app, 'node_modules', '.bin', 'p2p-mcp'), ['--help'], app, { capture: true, allowFail: true })
  check(help.status === 0 && help.stdout.includes('usage: p2p-mcp'), 'node_modules/.bin/p2p-mcp --help')
  const key = run(join(app, 'node_modules', '.bin', 'p2p-mcp'), ['keygen-psk'], app, { capture: true, allowFail: true })
  check(key.status === 0 && /^\/key\/swarm\/psk\/1\.0\.0\/\n\/base16\/\n[0-9a-f]{64}\n$/.test(key.stdout), 'p2p-mcp keygen-psk')
} catch (err) {
  failures.push(err.message)
  say(`FAIL ${err.message}`)
} finally {
  if (keep) say(`kept: ${work}`)
  else rmSync(work, { recursive: true, force: true })
}
say(failures.length === 0 ? 'release dry run: everything passed (nothing was published)' : `release dry run: ${failures.length} check(s) failed`)
process.exit(failures.length === 0 ? 0 : 1)
