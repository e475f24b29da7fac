/**
 * @packageDocumentation
 *
 * A linearizability checker in the style of Porcupine (Wing & Gong's search with Lowe's
 * memoisation, partitioned by key) and a key-value model with get, put, append and
 * compare-and-set, including operations whose outcome is unknown.
 */
export { checkLinearizability } from './linearizability.js'
export type { CheckOptions, CheckResult, Model, Operation } from './linearizability.js'
export { kvModel } from './kv-model.js'
export type { KvInput, KvOperation, KvOutput } from './kv-model.js'
