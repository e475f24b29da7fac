/** A logger: a pino logger (what the CLI passes) fits; messages may start with an object of fields, as in pino. */
export interface Logger {
  debug: (msg: unknown, ...args: unknown[]) => void
  info: (msg: unknown, ...args: unknown[]) => void
  warn: (msg: unknown, ...args: unknown[]) => void
  error: (msg: unknown, ...args: unknown[]) => void
  child?: (bindings: Record<string, unknown>) => Logger
}

const noop = (): void => {}

/** Drops everything; the default when no logger is given. */
export const noopLogger: Logger = { debug: noop, info: noop, warn: noop, error: noop, child: () => noopLogger }

/** `logger.child(bindings)`, or the logger itself when it cannot make children. */
export function childOf (logger: Logger, bindings: Record<string, unknown>): Logger {
  return logger.child?.(bindings) ?? logger
}
