/**
 * Issue 19: what policy evaluation adds per call, side by side in one process and one run.
 * Three peers (no libp2p traffic between them: each serves its own in-process tool) differ only
 * in their policy:
 *   none         default allow, no rules (the audit entry is still written: it is always on)
 *   100 rules    100 rules for other principals (token:user-0 … token:user-98, each with
 *                allow/deny lists of tools, resources and prompts) and one that allows `local`
 *   + limits     the 100 rules, a per-principal limit and a server access policy (rate and
 *                concurrency) that never refuse
 * Each round makes CALLS sequential tools/call through `connectClient()` (principal `local`)
 * to each peer in turn; the p50 of every variant over ROUNDS rounds, and the difference to
 * `none`, is the added cost per call. A micro-benchmark then times the checks alone
 * (Policy.check, remembered and first time, the limiter's admit, AccessControl.admit + finish)
 * in ns of CPU time per call.
 *
 *   node --import ../testkit/src/ts-hooks.ts bench/policy-cost.ts   (from packages/mcp-node)
 */
import { loadavg } from 'node:os'
import { Client } from '@modelcontextprotocol/sdk/client/index.js'
import { z } from 'zod'
import { createMcpNode, parseConfig, type McpNode, type McpNodeConfigInput } from '../src/index.js'
import { AccessControl } from '../src/access-control.js'
import { AuditLog } from '../src/audit/audit-log.js'
import { LayeredPolicy } from '../src/control-plane/layered-policy.js'
import { CallLimiter } from '../src/limits/limiter.js'
import { LimitPlan } from '../src/limits/limit-plan.js'

const ROUNDS = Number(process.env.ROUNDS ?? 10)
const CALLS = Number(process.env.CALLS ?? 300)
const MICRO = Number(process.env.MICRO ?? 200_000)

const rules = Array.from({ length: 99 }, (_, i) => ({
  principal: `token:user-${i}`,
  allow: [`calc${i}__*`, 'docs__read_*'],
  deny: [`calc${i}__drop`],
  resources: { allow: [`file:///u${i}/*`] },
  prompts: { deny: ['docs__admin_*'] },
}))
const hundred = { default: 'deny' as const, rules: [...rules, { principal: 'local', allow: ['bench__*'] }] }
const withLimits = {
  ...hundred,
  limits: [{ principal: 'local', requestsPerMinute: 100_000_000, burst: 1_000_000 }, { principal: 'token:*', requestsPerMinute: 600 }],
  servers: { bench: { requestsPerMinute: 100_000_000, burst: 1_000_000, maxConcurrentExecutions: 10_000 } },
}
const variants: Array<{ name: string, policy: McpNodeConfigInput['policy'] }> = [
  { name: 'none', policy: { default: 'allow', rules: [] } },
  { name: '100 rules', policy: hundred },
  { name: '100 rules + limits', policy: withLimits },
]

const pct = (xs: number[], p: number): number => { const s = [...xs].sort((a, b) => a - b); return s[Math.min(s.length - 1, Math.floor(p / 100 * s.length))] ?? NaN }
const load = (): string => loadavg().map((x) => x.toFixed(1)).join(' ')

const nodes: McpNode[] = []
const clients: Client[] = []
try {
  for (const v of variants) {
    const node = createMcpNode({ http: { enabled: false }, controlPlane: { enabled: false }, events: { enabled: false }, audit: { log: false }, policy: v.policy }, { localServerName: 'bench' })
    node.registerTool('echo', { inputSchema: { x: z.number() } }, ({ x }) => ({ content: [{ type: 'text', text: String(x) }] }))
    await node.start()
    await node.waitForTool('bench__echo', { timeoutMs: 60_000 })
    nodes.push(node)
    clients.push(await node.connectClient())
  }
  console.log(`policy cost: ${ROUNDS} rounds × ${CALLS} calls per variant, load average ${load()}`)
  const lat: number[][] = variants.map(() => [])
  for (let c = 0; c < clients.length; c++) for (let i = 0; i < 50; i++) await clients[c]!.callTool({ name: 'bench__echo', arguments: { x: i } })
  for (let r = 0; r < ROUNDS; r++) {
    for (let c = 0; c < clients.length; c++) {
      for (let i = 0; i < CALLS; i++) {
        const t = performance.now()
        await clients[c]!.callTool({ name: 'bench__echo', arguments: { x: i } })
        lat[c]!.push(performance.now() - t)
      }
    }
  }
  const base = pct(lat[0]!, 50)
  for (let c = 0; c < variants.length; c++) {
    const p50 = pct(lat[c]!, 50)
    console.log(`  ${variants[c]!.name.padEnd(20)} p50 ${(p50 * 1000).toFixed(1)} µs, p99 ${(pct(lat[c]!, 99) * 1000).toFixed(1)} µs, added p50 ${((p50 - base) * 1000).toFixed(1)} µs`)
  }

  // The checks alone.
  console.log(`checks alone (${MICRO} per variant), load average ${load()}`)
  for (const v of variants) {
    const config = parseConfig({ policy: v.policy })
    const policy = new LayeredPolicy(config.policy)
    const plan = new LimitPlan(policy, () => undefined)
    const limiter = new CallLimiter()
    const access = new AccessControl({ self: 'self', policy, plan, limiter, audit: new AuditLog({ maxEntries: 10_000 }) })
    const req = { method: 'tools/call' as const, principal: 'local', target: 'bench__echo', kind: 'tool' as const, server: 'bench', role: 'entry' as const, enforce: true }
    const time = (f: () => void): number => {
      for (let i = 0; i < 10_000; i++) f()
      const t = process.cpuUsage()
      for (let i = 0; i < MICRO; i++) f()
      const d = process.cpuUsage(t)
      return (d.user + d.system) * 1000 / MICRO
    }
    const check = time(() => { policy.check('local', 'bench__echo') })
    // A decision not taken before (the rules walked): what the first call of a principal and target pays.
    const decide = (policy as unknown as { decide: (p: string, t: string, s: readonly string[], k: string) => unknown }).decide.bind(policy)
    const cold = time(() => { decide('local', 'bench__echo', [], 'tool') })
    const admit = time(() => { const a = limiter.acquire(plan.entry('local', 'bench')); if (a.ok) a.release() })
    const whole = time(() => { const a = access.admit(req); if (a.ok) a.finish('ok') })
    console.log(`  ${v.name.padEnd(20)} Policy.check ${check.toFixed(0)} ns (first time ${cold.toFixed(0)} ns), limits ${admit.toFixed(0)} ns, AccessControl.admit + finish (with audit entry) ${whole.toFixed(0)} ns (CPU time)`)
  }
} finally {
  await Promise.allSettled(clients.map(async (c) => { await c.close() }))
  await Promise.allSettled(nodes.map(async (n) => { await n.stop({ graceMs: 1_000 }) }))
}
