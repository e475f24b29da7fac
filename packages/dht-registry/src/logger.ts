import type { Logger } from './types.js'

const noop = (): void => {}

/** The default logger of this package: drops everything. */
export const silentLogger: Logger = { debug: noop, info: noop, warn: noop, error: noop }
