/**
 * @packageDocumentation
 *
 * A seeded, single-process simulator for the Raft core: a virtual clock, a faulty network
 * (drop, delay, duplicate, reorder, symmetric and asymmetric partitions), crashes that lose
 * unsynced writes, slow disks, clock skew, membership churn and key-value clients, with
 * Raft's safety invariants checked continuously, a liveness phase after healing and a
 * linearizability check of the client history. The same seed replays the same run.
 */
export { simulate } from './simulate.js'
export type { SimFaults, SimProfile, SimStats, SimulateOptions, SimulateResult } from './simulate.js'
