import { RaftCore } from '../../src/core/raft-core.js'
import type { Message, RaftCoreInit } from '../../src/types.js'

/** Deliberate defects for proving that the simulator and the tests catch them. */
export type Mutation = 'commit-old-term-by-count' | 'ack-before-persist' | 'double-vote' | 'skip-up-to-date-check'

export const MUTATIONS: readonly Mutation[] = ['commit-old-term-by-count', 'ack-before-persist', 'double-vote', 'skip-up-to-date-check']

/** A RaftCore with one of Raft's rules broken; the production core has no such switch. */
export class MutantCore extends RaftCore {
  readonly mutation: Mutation

  constructor (init: RaftCoreInit, mutation: Mutation) {
    super(init)
    this.mutation = mutation
  }

  protected override mayGrantVote (m: Message): boolean {
    return this.mutation === 'double-vote' || super.mayGrantVote(m)
  }

  protected override candidateUpToDate (m: Message): boolean {
    return this.mutation === 'skip-up-to-date-check' || super.candidateUpToDate(m)
  }

  protected override mayCommitByCount (index: number): boolean {
    return this.mutation === 'commit-old-term-by-count' || super.mayCommitByCount(index)
  }

  protected override acksBeforePersist (): boolean {
    return this.mutation === 'ack-before-persist'
  }
}

/** A core factory for `simulate({ createCore })`: every node runs the mutant. */
export function mutantFactory (mutation: Mutation | undefined): ((init: RaftCoreInit) => RaftCore) | undefined {
  return mutation === undefined ? undefined : init => new MutantCore(init, mutation)
}
