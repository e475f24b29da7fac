import { ExponentialBackoff, halfJitterGenerator, type IBackoff } from 'cockatiel'

/**
 * Delays between attempts of something that keeps failing (an upstream restart, a bootstrap
 * dial): exponential from `minMs` to `maxMs` with half jitter, cockatiel's backoff (the one
 * the client pool uses too). `reset()` after a success.
 */
export class Backoff {
  private readonly factory: ExponentialBackoff<number>
  private current: IBackoff<unknown> | undefined

  constructor (minMs: number, maxMs: number) {
    this.factory = new ExponentialBackoff({ initialDelay: minMs, maxDelay: maxMs, generator: halfJitterGenerator })
  }

  /** The delay before the next attempt. */
  next (): number {
    this.current = this.current === undefined ? this.factory.next() : this.current.next(undefined)
    return this.current.duration
  }

  reset (): void {
    this.current = undefined
  }
}
