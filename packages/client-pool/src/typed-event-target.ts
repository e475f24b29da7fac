type Listener<E> = ((event: E) => void) | { handleEvent: (event: E) => void } | null
type BaseListener = Parameters<EventTarget['addEventListener']>[1]
type AddOptions = Parameters<EventTarget['addEventListener']>[2]
type RemoveOptions = Parameters<EventTarget['removeEventListener']>[2]

/** An EventTarget whose event names and `detail` types are checked (the pattern of libp2p's TypedEventEmitter). */
export class TypedEventTarget<EventMap extends { [K in keyof EventMap]: CustomEvent }> extends EventTarget {
  override addEventListener<K extends keyof EventMap & string> (type: K, listener: Listener<EventMap[K]>, options?: AddOptions): void {
    super.addEventListener(type, listener as BaseListener, options)
  }

  override removeEventListener<K extends keyof EventMap & string> (type: K, listener: Listener<EventMap[K]>, options?: RemoveOptions): void {
    super.removeEventListener(type, listener as BaseListener, options)
  }

  /** Dispatches `new CustomEvent(type, { detail })`. */
  protected emit<K extends keyof EventMap & string> (type: K, detail: EventMap[K]['detail']): void {
    this.dispatchEvent(new CustomEvent(type, { detail }))
  }
}
