// What authentication adds per call, in one run:
//  1. end to end (wall time, I/O): a trivial in-process tool called through the HTTP front door
//     of three lone peers in this process — no auth, a static bearer token, an OAuth JWT access
//     token (ES256, keys cached after the first call) — in alternating blocks, SDK client;
//  2. the checks alone (CPU time, decision 0003): HttpAuth.authenticate for a static token and a
//     JWT, the hop identity's sign (uncached) and verify, Policy.check with 0 and 50 rules.
//   cd packages/mcp-node && node --import ../testkit/src/ts-hooks.ts bench/auth.bench.ts   (BENCH_CALLS, BENCH_OPS)
import { cpus, loadavg } from 'node:os'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { Client } from '@modelcontextprotocol/sdk/client/index.js'
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js'
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js'
import { startTestIssuer } from '@p2p-mcp/testkit'
import { z } from 'zod'
import { IdentityAsserter, IdentityVerifier, verifyAssertion } from '../src/auth/hop-identity.js'
import { HttpAuth } from '../src/auth/http-auth.js'
import { AccessTokenVerifier } from '../src/auth/oauth.js'
import { createMcpNode, parseConfig, Policy, type McpNode, type McpNodeConfigInput } from '../src/index.js'
import { noopLogger } from '../src/logger.js'
import { pct } from './hop-measure.js'

const CALLS = Number(process.env.BENCH_CALLS ?? 2000)
const OPS = Number(process.env.BENCH_OPS ?? 20_000)
const STATIC = 'a-static-bearer-token-for-the-bench'

const issuer = await startTestIssuer()
const echo = ({ text }: { text: string }): Promise<CallToolResult> => Promise.resolve({ content: [{ type: 'text', text }] })

async function peer (http: McpNodeConfigInput['http']): Promise<McpNode> {
  const node = createMcpNode({ http, heartbeatIntervalMs: 2_000 })
  node.registerTool('echo', { inputSchema: { text: z.string() } }, echo)
  await node.start()
  await node.waitForTool('local__echo', { timeoutMs: 30_000 })
  return node
}

const none = await peer({})
const statik = await peer({ tokens: [{ token: STATIC, subject: 'bench' }] })
const oauth = await peer({ oauth: { issuers: [{ issuer: issuer.url }], requiredScopes: ['mcp:tools'] } })
const jwt = await issuer.sign({ sub: 'bench', aud: `${oauth.httpUrl!.origin}/`, scope: 'mcp:tools', exp: Math.floor(Date.now() / 1000) + 3600 })
const oauthEvery = await peer({ oauth: { issuers: [{ issuer: issuer.url }], requiredScopes: ['mcp:tools'], verifiedTokenCache: 0 } })
const jwtEvery = await issuer.sign({ sub: 'bench', aud: `${oauthEvery.httpUrl!.origin}/`, scope: 'mcp:tools', exp: Math.floor(Date.now() / 1000) + 3600 })

async function client (node: McpNode, token?: string): Promise<Client> {
  const c = new Client({ name: 'bench', version: '1' })
  await c.connect(new StreamableHTTPClientTransport(node.httpUrl!, token === undefined ? {} : { requestInit: { headers: { authorization: `Bearer ${token}` } } }))
  return c
}
const sides = [
  { name: 'no auth', c: await client(none) },
  { name: 'static bearer token', c: await client(statik, STATIC) },
  { name: 'OAuth JWT (ES256, cached JWKS), verified on every call (`verifiedTokenCache: 0`)', c: await client(oauthEvery, jwtEvery) },
  { name: 'OAuth JWT (ES256), verified once, remembered (default)', c: await client(oauth, jwt) },
]

async function latencies (c: Client, n: number): Promise<number[]> {
  const out: number[] = []
  for (let i = 0; i < n; i++) {
    const t = performance.now()
    await c.callTool({ name: 'local__echo', arguments: { text: 'x' } })
    out.push(performance.now() - t)
  }
  return out
}

for (const s of sides) await latencies(s.c, 200)
const times = sides.map(() => [] as number[])
// Alternating blocks, each block in a rotated order, so drift and position hit every side alike.
for (let block = 0; block < 8; block++) {
  for (let k = 0; k < sides.length; k++) {
    const i = (block + k) % sides.length
    times[i]!.push(...await latencies(sides[i]!.c, CALLS / 8))
  }
}

/** CPU microseconds per operation of `op`, over `n` runs after a warm-up. */
async function cpuPerOp (n: number, op: () => unknown): Promise<number> {
  for (let i = 0; i < Math.min(1000, n); i++) await op()
  const start = process.cpuUsage()
  for (let i = 0; i < n; i++) await op()
  const used = process.cpuUsage(start)
  return (used.user + used.system) / n
}

const auth = new HttpAuth({
  config: parseConfig({ http: { tokens: [{ token: STATIC, subject: 'bench' }], oauth: { issuers: [{ issuer: issuer.url }], requiredScopes: ['mcp:tools'], resource: 'http://127.0.0.1:1/' } } }).http,
  origin: 'http://127.0.0.1:1', allowedHosts: new Set(), logger: noopLogger,
})
const fullVerify = new AccessTokenVerifier({
  issuers: [{ issuer: issuer.url, algorithms: ['ES256'] }], resource: 'http://127.0.0.1:1/', audiences: [], requiredScopes: ['mcp:tools'], clockSkewS: 60,
  jwksTimeoutMs: 5_000, jwksCooldownMs: 30_000, jwksMaxAgeMs: 600_000, verifiedCacheSize: 0, logger: noopLogger,
})
const hopVerifier = new IdentityVerifier()
const microJwt = await issuer.sign({ sub: 'bench', aud: 'http://127.0.0.1:1/', scope: 'mcp:tools', exp: Math.floor(Date.now() / 1000) + 3600 })
const key = await generateKeyPair('Ed25519')
const selfId = peerIdFromPrivateKey(key).toString()
const uncached = new IdentityAsserter({ peerId: selfId, sign: (d) => key.sign(d), ttlMs: 0 })
const assertion = await new IdentityAsserter({ peerId: selfId, sign: (d) => key.sign(d) }).assert({ principal: 'token:bench', scopes: [] })
const policy50 = new Policy(parseConfig({ policy: { rules: Array.from({ length: 50 }, (_, i) => ({ principal: `oauth:https://idp${i}.example#*`, deny: [`tool${i}__*`] })) } }).policy)
const policy0 = new Policy(parseConfig({}).policy)
const micro = [
  ['static token (sha256 + constant-time compare)', await cpuPerOp(OPS, async () => await auth.authenticate(STATIC))],
  ['OAuth JWT, full verification (ES256, cached key)', await cpuPerOp(OPS / 4, async () => await fullVerify.verify(microJwt))],
  ['OAuth JWT, the same token again (verified-token cache, as the front door runs)', await cpuPerOp(OPS, async () => await auth.authenticate(microJwt))],
  ['hop identity: sign (uncached; the entry peer signs once per caller per 30 s)', await cpuPerOp(OPS / 4, async () => await uncached.assert({ principal: 'token:bench', scopes: [] }))],
  ['hop identity: full verification at the serving peer', await cpuPerOp(OPS / 4, async () => await verifyAssertion(assertion, selfId))],
  ['hop identity: the same assertion again (as the serving peer runs)', await cpuPerOp(OPS, async () => await hopVerifier.verify(assertion, selfId))],
  ['Policy.check, 0 rules', await cpuPerOp(OPS, () => policy0.check('oauth:https://idp.example#bench', 'calc__add', ['mcp:tools']))],
  ['Policy.check, 50 rules', await cpuPerOp(OPS, () => policy50.check('oauth:https://idp.example#bench', 'calc__add', ['mcp:tools']))],
] as const

const base = pct(times[0]!, 0.5)
console.log(`Node ${process.version}, ${cpus().length} × ${cpus()[0]?.model ?? '?'}, ${new Date().toISOString()}, load average ${loadavg().map((x) => x.toFixed(1)).join(' ')}`)
console.log(`\n${CALLS} sequential tools/call per side through the HTTP front door (SDK client, wall time, alternating blocks):\n`)
console.log('| front door | p50 ms | p99 ms | added p50 vs no auth |')
console.log('| --- | ---: | ---: | ---: |')
for (const [i, s] of sides.entries()) {
  const p50 = pct(times[i]!, 0.5)
  console.log(`| ${s.name} | ${p50.toFixed(3)} | ${pct(times[i]!, 0.99).toFixed(3)} | ${i === 0 ? '—' : `${(p50 - base) >= 0 ? '+' : ''}${(p50 - base).toFixed(3)} ms`} |`)
}
console.log(`\nThe checks alone (CPU time per operation, ${OPS} operations; sign/verify ${OPS / 4}):\n`)
console.log('| check | µs per call |')
console.log('| --- | ---: |')
for (const [name, us] of micro) console.log(`| ${name} | ${us.toFixed(2)} |`)

for (const s of sides) await s.c.close()
await Promise.all([none, statik, oauth, oauthEvery].map(async (n) => { await n.stop({ graceMs: 500 }) }))
await issuer.close()
