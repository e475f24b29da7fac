/** A node's identity: a libp2p PeerId string in production. Never reuse an id after removal. */
export type NodeId = string

/** A change of membership: one server at a time (thesis §4.1), learners included. */
export interface ConfChange {
  /** `addVoter` also promotes a learner; `addLearner` also demotes a voter. */
  type: 'addVoter' | 'addLearner' | 'removeNode'
  node: NodeId
}

/** A log entry. `data` is opaque to Raft; a leader's no-op has empty data. */
export interface Entry {
  index: number
  term: number
  type: 'normal' | 'conf'
  data: Uint8Array
  /** Set on `conf` entries. */
  change?: ConfChange | undefined
  /** A correlation id chosen by the proposer, returned with the applied entry. */
  ctx?: string | undefined
}

/** The state that must be durable before a dependent message is sent. */
export interface HardState {
  term: number
  /** The candidate voted for in `term`, or `''`. */
  vote: NodeId
  commit: number
}

/** Voters and learners of the cluster. */
export interface ConfState {
  voters: NodeId[]
  learners: NodeId[]
}

export interface SnapshotMeta {
  index: number
  term: number
  conf: ConfState
}

export interface Snapshot {
  meta: SnapshotMeta
  data: Uint8Array
}

export type MessageType =
  | 'app' | 'appResp'
  | 'vote' | 'voteResp'
  | 'preVote' | 'preVoteResp'
  | 'heartbeat' | 'heartbeatResp'
  | 'snap'
  | 'prop'
  | 'readIndex' | 'readIndexResp'
  | 'transferLeader' | 'timeoutNow'

/**
 * A Raft message. Fields other than type/from/to/term are used by some types only, as in
 * the paper's RPCs: `index`/`logTerm` are prevLogIndex/prevLogTerm for `app`, lastLogIndex/
 * lastLogTerm for votes; `rejectHint`/`logTerm` carry the fast-backtracking hint on a rejected
 * `appResp`.
 */
export interface Message {
  type: MessageType
  from: NodeId
  to: NodeId
  term: number
  index?: number | undefined
  logTerm?: number | undefined
  commit?: number | undefined
  entries?: Entry[] | undefined
  reject?: boolean | undefined
  rejectHint?: number | undefined
  snapshot?: Snapshot | undefined
  /** ReadIndex request id, or 'transfer' on a vote caused by leadership transfer. */
  context?: string | undefined
}

export type Role = 'follower' | 'preCandidate' | 'candidate' | 'leader'

/** The result of a ReadIndex request: reads with this context may be served once applied ≥ index. */
export interface ReadState {
  index: number
  context: string
}

/**
 * What the host must do, in order: persist `entries`, `hardState` and `snapshot` (one
 * durability barrier when `mustSync`), send `messages` (a leader may send `earlyMessages`
 * before persisting, thesis §10.2.1; everyone else sends both after), apply `snapshot` then
 * `committedEntries` to the state machine, then call `advance()`.
 */
export interface Ready {
  role: Role
  leader: NodeId
  term: number
  hardState?: HardState | undefined
  entries: Entry[]
  snapshot?: Snapshot | undefined
  committedEntries: Entry[]
  earlyMessages: Message[]
  messages: Message[]
  readStates: ReadState[]
  mustSync: boolean
}

/** The synchronous read side of a log store (the core calls it inside step/ready). */
export interface LogReader {
  initialState(): { hardState: HardState, conf: ConfState }
  /** Index of the first entry still in the log (snapshot index + 1). */
  firstIndex(): number
  lastIndex(): number
  /** Term of entry `i`, valid for firstIndex-1 ≤ i ≤ lastIndex; throws CompactedError below. */
  term(i: number): number
  /** Entries [lo, hi), at least one if any, further ones while under maxBytes. */
  entries(lo: number, hi: number, maxBytes?: number): Entry[]
  /** The latest snapshot (index 0 if none). */
  snapshot(): Snapshot
}

/** A durable store the Node writes through: a memory one here, a file WAL later. */
export interface RaftStorage extends LogReader {
  /**
   * Truncates from entries[0].index, appends, writes the hard state and snapshot, in one
   * batch; resolves only when durable if `sync`.
   */
  persist(batch: { entries: Entry[], hardState?: HardState | undefined, snapshot?: Snapshot | undefined }, options: { sync: boolean }): Promise<void>
  /** Stores a snapshot the state machine took at `index` and drops the log up to it. */
  compact(snapshot: Snapshot): Promise<void>
  close(): Promise<void>
}

/** Carries messages between nodes: in memory here, libp2p streams later. */
export interface RaftTransport {
  /** Begins delivering inbound messages. */
  start(onMessage: (m: Message) => void): Promise<void>
  /** Non-blocking, best effort, per-peer FIFO; may drop (Raft retries). */
  send(messages: Message[]): void
  stop(): Promise<void>
}

/** The replicated state machine the Node applies committed entries to. */
export interface StateMachine {
  /** Deterministic; returns the result handed back to `propose()`. */
  apply(entry: Entry): unknown
  snapshot(): Uint8Array
  restore(data: Uint8Array): void
}

export interface Logger {
  debug(msg: string, ...args: unknown[]): void
  info(msg: string, ...args: unknown[]): void
  warn(msg: string, ...args: unknown[]): void
  error(msg: string, ...args: unknown[]): void
  child?(bindings: Record<string, unknown>): Logger
}

/** Configuration of the deterministic core. */
export interface RaftCoreInit {
  /** This node's id. */
  id: NodeId
  /** The log and durable state to start from. */
  storage: LogReader
  /**
   * Voters when storage is empty (a new cluster).
   * @default the voters in storage
   */
  peers?: NodeId[]
  /**
   * Ticks without hearing from a leader before an election; randomised in [n, 2n).
   * @default 10
   */
  electionTicks?: number
  /**
   * Ticks between leader heartbeats.
   * @default 1
   */
  heartbeatTicks?: number
  /**
   * Seed of the core's PRNG (randomised timeouts). Randomness is an input, so a seed replays.
   * @default a hash of id
   */
  seed?: number
  /**
   * Run a pre-election that does not bump terms (thesis §9.6).
   * @default true
   */
  preVote?: boolean
  /**
   * A leader steps down after an election timeout without hearing from a quorum.
   * @default true
   */
  checkQuorum?: boolean
  /**
   * `safe`: ReadIndex confirms leadership with a heartbeat round. `lease`: answers at once,
   * relying on CheckQuorum and bounded clock drift; requires checkQuorum.
   * @default 'safe'
   */
  readOnly?: 'safe' | 'lease'
  /**
   * Max bytes of entries in one append message.
   * @default 65536
   */
  maxSizePerMsg?: number
  /**
   * Max in-flight append messages per follower in replicate state.
   * @default 256
   */
  maxInflightMsgs?: number
  /**
   * Max in-flight bytes per follower (0 = no limit).
   * @default 0
   */
  maxInflightBytes?: number
  /**
   * Max bytes of uncommitted entries a leader accepts before dropping proposals (0 = no limit).
   * @default 0
   */
  maxUncommittedBytes?: number
  /**
   * Followers forward proposals to the leader.
   * @default true
   */
  proposalForwarding?: boolean
  /**
   * A leader sends the appends for new proposals at the next ready() instead of at each
   * propose(): one append per follower for all proposals between two Readys (RaftNode turns
   * it on; the default keeps the core's message-per-proposal behaviour the simulator uses).
   * @default false
   */
  batchAppends?: boolean
}
