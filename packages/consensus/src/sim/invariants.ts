import type { SimNode, World } from './world.js'

/** Reacts to what the invariants observe (the figure8 and leader-churn nemeses follow leaders). */
export interface LeaderWatcher {
  /** A leader's commit index advanced. */
  onCommitAdvanced(n: SimNode): void
  /** A node became leader of a new term. */
  onLeaderElected(n: SimNode): void
}

/**
 * Raft's safety properties, checked after every input to a node: commit safety (a committed
 * index never changes entry), election safety (one leader per term), leader completeness,
 * log matching; state-machine safety (same entry applied at each index) is checked where
 * entries are applied, in the world.
 */
export function observe<I, O> (w: World<I, O>, n: SimNode, watcher: LeaderWatcher): void {
  const c = n.core
  const stats = w.stats
  if (c.term > stats.maxTerm) stats.maxTerm = c.term
  // Commit safety: once any node believes an index committed, its entry never changes,
  // whether or not anyone applied it yet.
  if (n.alive && c.log.committed > n.checkedCommit) {
    for (let i = Math.max(n.checkedCommit + 1, c.log.firstIndex()); i <= c.log.committed; i++) {
      const t = c.log.term(i)
      const prior = w.committedTerms.get(i)
      if (prior === undefined) w.committedTerms.set(i, { term: t, by: c.term })
      else if (prior.term !== t) { w.violate(`commit safety: ${n.id} committed term ${t} at ${i}, another node committed term ${prior.term}`); break }
    }
    n.checkedCommit = c.log.committed
    watcher.onCommitAdvanced(n)
  }
  if (c.role === 'leader' && n.wasLeaderTerm !== c.term) {
    n.wasLeaderTerm = c.term
    stats.elections++
    const other = w.leaders.get(c.term)
    if (other !== undefined && other !== n.id) w.violate(`election safety: ${n.id} and ${other} both leaders in term ${c.term}`)
    w.leaders.set(c.term, n.id)
    if (w.lastLeader !== n.id) stats.leaderChanges++
    w.lastLeader = n.id
    w.note(`leader ${n.id} term ${c.term}`)
    watcher.onLeaderElected(n)
    // Leader completeness: an entry committed in an earlier term is in the new leader's log.
    // (A leader of a lower term can still be elected late, from delayed vote grants; it owes
    // nothing to entries committed in later terms.)
    const first = c.log.firstIndex()
    for (const [i, ct] of w.committedTerms) {
      if (i < first || ct.by >= c.term) continue
      const t = c.log.term(i)
      if (t !== ct.term) {
        w.violate(`leader completeness: leader ${n.id} term ${c.term} has term ${t} at index ${i}, committed with term ${ct.term} by term ${ct.by}`)
        break
      }
    }
    checkLogMatching(w)
  }
}

/** Log matching: two logs with an entry of the same index and term agree on everything before it. */
export function checkLogMatching<I, O> (w: World<I, O>): void {
  const live = [...w.nodes.values()].filter(x => x.alive)
  for (let a = 0; a < live.length; a++) {
    for (let b = a + 1; b < live.length; b++) {
      const la = live[a]!.core.log
      const lb = live[b]!.core.log
      const lo = Math.max(la.firstIndex(), lb.firstIndex())
      let i = Math.min(la.lastIndex(), lb.lastIndex())
      while (i >= lo && la.term(i) !== lb.term(i)) i--
      for (let j = i - 1; j >= lo; j--) {
        if (la.term(j) !== lb.term(j)) {
          w.violate(`log matching: ${live[a]!.id} and ${live[b]!.id} agree at ${i} but differ at ${j}`)
          return
        }
      }
    }
  }
}
