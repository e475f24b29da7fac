/**
 * @packageDocumentation
 *
 * One `connect()` and one `serve()` for every transport a peer uses: stdio (child
 * processes), Streamable HTTP, libp2p and in-memory pairs. Node-only (stdio and HTTP).
 */
export { connect } from './node/connect.js'
export { serve } from './node/serve.js'
export type {
  ConnectSpec, HttpConnectSpec, HttpServeSpec, Libp2pConnectSpec, Libp2pServeSpec, MemoryConnectSpec, MemoryServeSpec,
  MemoryServed, ServeSession, ServeSessionFactory, ServeSpec, Served, StdioConnectSpec, StdioServeSpec, TokenVerifier,
} from './node/types.js'
