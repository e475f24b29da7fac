import { z } from 'zod'
import { firstIssue, fromJsonBytes, toJsonBytes } from './codec-json.js'
import { reject } from './types.js'
import type { ApplyContext, MemberRole, ReplicatedModule } from './types.js'

/** A member of the mesh as the control plane records it. */
export interface MemberRecord {
  peerId: string
  /** May become a voter: not a stdio-only or ephemeral peer, control plane enabled. */
  voterEligible: boolean
  role: MemberRole
  /** Log time of the (last) join. */
  joinedAtMs: number
  /** Log time of leaving, if it left. */
  leftAtMs?: number
  /** Log time of the last role change. */
  roleSinceMs: number
  addrs: string[]
}

const MAX_MEMBERS = 10_000

/** A members snapshot, as another replica may send it. */
const MembersSnapshotSchema: z.ZodType<MemberRecord[]> = z.array(z.object({
  peerId: z.string().min(1), voterEligible: z.boolean(), role: z.enum(['voter', 'learner', 'client']),
  joinedAtMs: z.number(), leftAtMs: z.number().optional(), roleSinceMs: z.number(), addrs: z.array(z.string()),
}).transform(({ leftAtMs, ...m }): MemberRecord => leftAtMs === undefined ? m : { ...m, leftAtMs })).max(MAX_MEMBERS)
const peerId = z.string().min(1).max(128)

const MembersCommandSchema = z.discriminatedUnion('op', [
  z.strictObject({ op: z.literal('join'), peerId, voterEligible: z.boolean(), addrs: z.array(z.string().max(512)).max(16).default([]) }),
  z.strictObject({ op: z.literal('leave'), peerId }),
  z.strictObject({ op: z.literal('role'), peerId, role: z.enum(['voter', 'learner', 'client']) }),
])

export type MembersCommand = z.input<typeof MembersCommandSchema>

/** The `members` module: who is in the mesh, with roles and join/leave times in log time. */
export class MembersModule implements ReplicatedModule {
  readonly name = 'members'
  readonly version = 1
  private members = new Map<string, MemberRecord>()

  get (peer: string): MemberRecord | undefined { return this.members.get(peer) }

  /** Every member, in join order. */
  list (): MemberRecord[] { return [...this.members.values()] }

  apply (command: unknown, ctx: ApplyContext): unknown {
    const parsed = MembersCommandSchema.safeParse(command)
    if (!parsed.success) return reject('InvalidCommandError', `members command: ${firstIssue(parsed.error)}`)
    const c = parsed.data
    const m = this.members.get(c.peerId)
    switch (c.op) {
      case 'join': {
        if (m === undefined && this.members.size >= MAX_MEMBERS) return reject('TooManyMembersError', `the mesh has ${MAX_MEMBERS} members, the most the control plane records`)
        if (m !== undefined && m.leftAtMs === undefined) {
          m.voterEligible = c.voterEligible
          m.addrs = c.addrs
          return { ok: true, joined: false }
        }
        this.members.delete(c.peerId)
        this.members.set(c.peerId, { peerId: c.peerId, voterEligible: c.voterEligible, role: m?.role ?? 'client', joinedAtMs: ctx.timeMs, roleSinceMs: ctx.timeMs, addrs: c.addrs })
        return { ok: true, joined: true }
      }
      case 'leave': {
        if (m === undefined || m.leftAtMs !== undefined) return { ok: true, left: false }
        m.leftAtMs = ctx.timeMs
        return { ok: true, left: true }
      }
      case 'role': {
        if (m === undefined) return reject('UnknownMemberError', `${c.peerId} is not a member`)
        if (m.role !== c.role) { m.role = c.role; m.roleSinceMs = ctx.timeMs }
        return { ok: true }
      }
    }
  }

  /**
   * Marks every member but `keep` as gone (disaster recovery only, outside the log): after a
   * force-new-cluster the old members must join again as new ones.
   */
  forgetAllBut (keep: string, timeMs: number): void {
    for (const m of this.members.values()) {
      if (m.peerId === keep) { m.role = 'voter'; m.roleSinceMs = timeMs; continue }
      m.leftAtMs ??= timeMs
      m.role = 'client'
    }
  }

  snapshot (): Uint8Array { return toJsonBytes([...this.members.values()]) }

  restore (data: Uint8Array): void {
    this.members = new Map((fromJsonBytes(data, MembersSnapshotSchema, 'members') ?? []).map((m) => [m.peerId, m]))
  }
}
