/**
 * @packageDocumentation
 *
 * A seeded, single-process simulator for the Raft core: a virtual clock, a faulty network
 * (drop, delay, duplicate, reorder, symmetric and asymmetric partitions), crashes that lose
 * unsynced writes, slow disks, clock skew, membership churn, and clients driving any state
 * machine through a workload (a key-value store by default), with Raft's safety invariants
 * checked continuously, a liveness phase after healing and a check of the client history
 * (linearizability for the key-value workload). The same seed replays the same run.
 */
export { simulate } from './simulate.js'
export type { SimulateOptions, SimulateResult } from './simulate.js'
export type { SimFaults, SimProfile, SimStats } from './world.js'
export type { SimWorkload } from './workload.js'
export { kvWorkload, KvStateMachine } from './kv-workload.js'
export type { KvWorkloadInit } from './kv-workload.js'
