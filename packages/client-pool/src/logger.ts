/**
 * An optional logger: libp2p's component logger and a pino child both fit. Every package of
 * the mesh declares this same file (leaf packages do not import each other; a test in
 * testkit keeps the copies identical, docs/decisions/0081).
 */
export interface Logger {
  debug: (msg: string, ...args: unknown[]) => void
  info: (msg: string, ...args: unknown[]) => void
  warn: (msg: string, ...args: unknown[]) => void
  error: (msg: string, ...args: unknown[]) => void
  child?: (bindings: Record<string, unknown>) => Logger
}

const noop = (): void => {}

/** The default logger: says nothing. */
export const noopLogger: Logger = { debug: noop, info: noop, warn: noop, error: noop, child: () => noopLogger }
