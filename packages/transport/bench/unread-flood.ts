/**
 * Issue 17, item 6, measured: a remote sends FLOOD (default 80,000) `tools/call` requests on one
 * session and never reads the answers (each an echo of ANSWER_BYTES, default 1 KiB). The serving side runs twice in one process, one after
 * the other: with the bounds off (`maxInFlight: 0, maxQueuedBytes: 0`, the behaviour before
 * issue 17) and with the defaults. Reports the process's peak heap and RSS growth during the
 * flood (sampled every 100 ms), the heap still held after a GC, and whether (and after how
 * many requests sent) the stream was reset. Both sides are in this process; the flooding
 * side pauses its stream, so it holds at most yamux's window.
 *
 *   node --expose-gc --import @p2p-mcp/testkit/ts-hooks bench/unread-flood.ts      (from packages/transport)
 */
import { loadavg } from 'node:os'
import type { Stream } from '@libp2p/interface'
import { createTestNet, type TestNode } from '@p2p-mcp/testkit'
import { MCP_PROTOCOL, serveMcp } from '../src/index.js'
import { writeVarint } from '../src/frame.js'
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js'
import { z } from 'zod'

const FLOOD = Number(process.env.FLOOD ?? 80_000)
/** Bytes of each answer's text. */
const ANSWER_BYTES = Number(process.env.ANSWER_BYTES ?? 1024)

function echoServer (): McpServer {
  const server = new McpServer({ name: 'flood', version: '1.0.0' })
  server.registerTool('echo', { inputSchema: { text: z.string() } }, ({ text }) => ({ content: [{ type: 'text', text }] }))
  return server
}
const print = (line: string): void => { process.stdout.write(`${line}\n`) }
const mb = (bytes: number): number => Math.round(bytes / 2 ** 20)

function frame (message: unknown): Uint8Array {
  const body = new TextEncoder().encode(JSON.stringify(message))
  const out = new Uint8Array(body.length + 5)
  const at = writeVarint(out, 0, body.length)
  out.set(body, at)
  return out.subarray(0, at + body.length)
}

async function settle (): Promise<void> {
  for (let i = 0; i < 5; i++) {
    (globalThis as { gc?: () => void }).gc?.()
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
}

interface FloodResult {
  serving: string
  sent: number
  streamReset: boolean
  sentAtReset: number | undefined
  peakHeapGrowthMB: number
  peakRssGrowthMB: number
  heldAfterGcMB: number
  seconds: number
  errors: string[]
}

async function run (bounded: boolean): Promise<FloodResult> {
  const net = createTestNet()
  const [a, b] = await net.nodes(2, { transport: 'tcp' }) as [TestNode, TestNode]
  const errors: string[] = []
  const unserve = await serveMcp(b, () => echoServer(), {
    ...(bounded ? {} : { maxInFlight: 0, maxQueuedBytes: 0 }),
    onerror: (err) => { if (err.name !== 'InvalidMessageError') errors.push(err.name) },
  })
  await settle()
  const before = process.memoryUsage()
  const stream: Stream = await a.dialProtocol(b.getMultiaddrs(), MCP_PROTOCOL)
  stream.pause()
  let reset = false
  let sentAtReset = 0
  let sent = 0
  stream.addEventListener('close', () => { reset = true; sentAtReset = sent })
  stream.send(frame({ jsonrpc: '2.0', id: 0, method: 'initialize', params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'flood', version: '1' } } }))
  stream.send(frame({ jsonrpc: '2.0', method: 'notifications/initialized' }))
  const started = performance.now()
  let peakHeap = 0
  let peakRss = 0
  const sampler = setInterval(() => { const m = process.memoryUsage(); peakHeap = Math.max(peakHeap, m.heapUsed); peakRss = Math.max(peakRss, m.rss) }, 100)
  const text = 'x'.repeat(ANSWER_BYTES)
  for (let i = 1; i <= FLOOD && !reset; i++) {
    sent = i
    if (!stream.send(frame({ jsonrpc: '2.0', id: i, method: 'tools/call', params: { name: 'echo', arguments: { text } } }))) {
      await new Promise((resolve) => {
        const done = (): void => { stream.removeEventListener('drain', done); stream.removeEventListener('close', done); resolve(undefined) }
        stream.addEventListener('drain', done)
        stream.addEventListener('close', done)
      })
    }
  }
  // Let the server work through what it received, then count what it still holds.
  await new Promise((resolve) => setTimeout(resolve, 2_000))
  clearInterval(sampler)
  await settle()
  const after = process.memoryUsage()
  const result = {
    serving: bounded ? 'bounds on (defaults)' : 'bounds off',
    sent,
    streamReset: reset,
    sentAtReset: reset ? sentAtReset : undefined,
    peakHeapGrowthMB: mb(peakHeap - before.heapUsed),
    peakRssGrowthMB: mb(peakRss - before.rss),
    heldAfterGcMB: mb(after.heapUsed - before.heapUsed),
    seconds: Math.round((performance.now() - started) / 100) / 10,
    errors: [...new Set(errors)],
  }
  stream.abort(new Error('done'))
  await unserve()
  await net.stop()
  await settle()
  return result
}

const load0 = loadavg()
print(`unread-flood: ${FLOOD} requests on one session, answers of ${ANSWER_BYTES} bytes never read; load average ${load0.map((x) => x.toFixed(1)).join(' ')}`)
const rows = [await run(false), await run(true)]
print('| serving side | requests sent | stream reset | after | peak heap growth | peak RSS growth | heap held after GC | s | errors reported |')
print('| --- | --- | --- | --- | --- | --- | --- | --- | --- |')
for (const r of rows) {
  print(`| ${r.serving} | ${r.sent} | ${String(r.streamReset)} | ${r.sentAtReset ?? '—'} | ${r.peakHeapGrowthMB} MB | ${r.peakRssGrowthMB} MB | ${r.heldAfterGcMB} MB | ${r.seconds} | ${r.errors.join(', ')} |`)
}
print(`load average at the end: ${loadavg().map((x) => x.toFixed(1)).join(' ')}; ${process.version}; ${new Date().toISOString()}`)
