import { peerIdFromString } from '@libp2p/peer-id'
import { z } from 'zod'

const ms = z.number().int().min(1).max(86_400_000)

/** The `controlPlane` section of a peer's config. */
export const ControlPlaneConfigSchema = z.strictObject({
  /** Take part in the control plane; when false the peer reads and writes through others. */
  enabled: z.boolean().default(true),
  /** Never a voter (a peer started for one client, a short-lived peer). Peers with only a stdio front door are ephemeral. */
  ephemeral: z.boolean().default(false),
  /** Fixed voters (peer ids) instead of the autopilot's growth rules. */
  voters: z.array(z.string().min(1).refine((v) => { try { peerIdFromString(v); return true } catch { return false } }, 'a peer id (12D3Koo…)')).min(1).optional(),
  maxVoters: z.number().int().min(1).max(9).default(5),
  maxLearners: z.number().int().min(0).max(64).default(4),
  /** How long a learner stays healthy before it is promoted beyond 3 voters. */
  stabilizationMs: ms.default(10_000),
  /** How long a voter may be unreachable before a learner replaces it. */
  deadVoterMs: ms.default(30_000),
  /** The leader proposes a tick (log time) this often. */
  tickIntervalMs: z.number().int().min(50).max(60_000).default(1_000),
  /** Raft election timeout (randomised up to twice this). */
  electionTimeoutMs: z.number().int().min(100).max(60_000).default(1_000),
  /** How long a write waits for a quorum before NoQuorumError. */
  timeoutMs: z.number().int().min(100).max(600_000).default(5_000),
  /** Principals allowed to change the replicated policy; seeds it when this peer creates the group. */
  admins: z.array(z.string().min(1)).default([]),
})

export type ControlPlaneConfig = z.output<typeof ControlPlaneConfigSchema>

export const DEFAULT_CONTROL_PLANE_CONFIG: ControlPlaneConfig = ControlPlaneConfigSchema.parse({})
