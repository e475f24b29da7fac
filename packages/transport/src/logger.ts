import type { Logger } from './types.js'

const noop = (): void => {}

/** The default logger: says nothing. */
export const noopLogger: Logger = { debug: noop, info: noop, warn: noop, error: noop, child: () => noopLogger }
