/** Resolves with `promise`, or rejects after `ms` with an error naming `what`. The timer never keeps the process alive. */
export async function within<T> (ms: number, what: string, promise: Promise<T>): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined
  const timeout = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => { reject(new Error(`timed out after ${ms} ms waiting for ${what}`)) }, ms)
    timer.unref()
  })
  try {
    return await Promise.race([promise, timeout])
  } finally {
    clearTimeout(timer)
  }
}

/** A promise with its resolve/reject, for waiting on callbacks: `const closed = deferred<void>(); t.onclose = closed.resolve`. */
export function deferred<T> (): { promise: Promise<T>, resolve: (value: T) => void, reject: (err: Error) => void } {
  return Promise.withResolvers<T>()
}
