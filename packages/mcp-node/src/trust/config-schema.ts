import { peerIdFromString } from '@libp2p/peer-id'
import { z } from 'zod'

const peerId = z.string().superRefine((id, ctx) => {
  try { peerIdFromString(id) } catch { ctx.addIssue({ code: 'custom', message: `${JSON.stringify(id)} is not a peer id (12D3Koo…)` }) }
})
const serverName = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/, 'a server name: 1 to 64 letters, digits, . _ -, starting with a letter or digit')

/** A server name pinned by this peer's config (an allow-list that works without the control plane). */
export const ConfigPinSchema = z.strictObject({
  /** Peer ids allowed to serve the name; others are refused. */
  publishers: z.array(peerId).min(1).max(64).optional(),
  /** The definition's pin hash (as `mesh__trust_get` shows it); other definitions are refused. */
  hash: z.string().regex(/^[0-9a-f]{64}$/, 'a sha256 hex digest (64 hex digits), as mesh__trust_get shows').optional(),
})

/** The `trust` section of a peer's config (docs/security.md, "Server-name trust and revocation"). */
export const TrustConfigSchema = z.strictObject({
  /**
   * Who decides a server name's first definition. `mesh`: the control plane's log (a name is
   * not served until the log pinned it). `local`: the first definition this peer sees (no
   * control plane needed; each peer decides alone). `auto`: `mesh` when `controlPlane.enabled`,
   * else `local`.
   */
  firstUse: z.enum(['auto', 'mesh', 'local']).default('auto'),
  /** Server names pinned by this config, to publishers and/or a hash; the replicated pins apply too (both must admit). */
  servers: z.record(serverName, ConfigPinSchema).default({}),
  /** Peer ids refused by this peer (besides the mesh-wide bans of the control plane). */
  bannedPeers: z.array(peerId).max(10_000).default([]),
})

export type TrustConfig = z.output<typeof TrustConfigSchema>

export const DEFAULT_TRUST_CONFIG: TrustConfig = TrustConfigSchema.parse({})
