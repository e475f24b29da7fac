// A small Server-Sent Events client for the tests and the benchmark (fetch + a line parser).
export interface SseMessage { id: string, event: string, data: string }

export interface SseStream {
  /** Messages received so far. */
  readonly messages: SseMessage[]
  /** Resolves once `n` messages arrived in total. */
  waitFor: (n: number, timeoutMs?: number) => Promise<SseMessage[]>
  close: () => void
  /** Called for each message as it arrives. */
  onMessage?: (m: SseMessage) => void
}

export async function openSse (url: string | URL, headers: Record<string, string> = {}): Promise<SseStream> {
  const abort = new AbortController()
  const res = await fetch(url, { headers: { accept: 'text/event-stream', ...headers }, signal: abort.signal })
  if (res.status !== 200 || res.body === null) throw new Error(`SSE ${String(url)}: HTTP ${res.status} ${await res.text()}`)
  const messages: SseMessage[] = []
  let waiters: Array<() => void> = []
  const stream: SseStream = {
    messages,
    waitFor: async (n, timeoutMs = 30_000) => {
      const deadline = Date.now() + timeoutMs
      while (messages.length < n) {
        if (Date.now() > deadline) throw new Error(`SSE: ${messages.length} of ${n} messages within ${timeoutMs} ms`)
        await new Promise<void>((resolve) => { waiters.push(resolve); setTimeout(resolve, 200).unref() })
      }
      return messages.slice(0, n)
    },
    close: () => { abort.abort() },
  }
  void (async () => {
    const decoder = new TextDecoder()
    let buffer = ''
    let cur: Partial<SseMessage> & { data?: string } = {}
    try {
      for await (const chunk of res.body!) {
        buffer += decoder.decode(chunk as Uint8Array, { stream: true })
        let nl
        while ((nl = buffer.indexOf('\n')) >= 0) {
          const line = buffer.slice(0, nl)
          buffer = buffer.slice(nl + 1)
          if (line === '') {
            if (cur.data !== undefined) {
              const m = { id: cur.id ?? '', event: cur.event ?? 'message', data: cur.data }
              messages.push(m)
              stream.onMessage?.(m)
              const w = waiters
              waiters = []
              for (const f of w) f()
            }
            cur = {}
          } else if (line.startsWith('id: ')) cur.id = line.slice(4)
          else if (line.startsWith('event: ')) cur.event = line.slice(7)
          else if (line.startsWith('data: ')) cur.data = (cur.data === undefined ? '' : cur.data + '\n') + line.slice(6)
        }
      }
    } catch { /* aborted */ }
  })()
  return stream
}
