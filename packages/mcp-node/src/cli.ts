#!/usr/bin/env node
// The `p2p-mcp` command's entry point. It checks the Node version before anything else is
// loaded (libp2p needs Node 22: on Node 20 it dies with "Promise.withResolvers is not a
// function"), so it imports nothing statically and keeps to syntax any Node parses.
import { MIN_NODE_VERSION } from './node-version.js'

const [major = 0, minor = 0] = process.versions.node.split('.').map(Number)
const [needMajor = 0, needMinor = 0] = MIN_NODE_VERSION.split('.').map(Number)
if (major < needMajor || (major === needMajor && minor < needMinor)) {
  process.stderr.write(`p2p-mcp: needs Node.js >= ${MIN_NODE_VERSION}, and this is ${process.version} (${process.execPath}).\n` +
    '  Install Node 22 or 24 (https://nodejs.org, or `nvm install 24`) and run p2p-mcp with it;\n' +
    '  from a clone of the repository, `npm run p2p-mcp -- <command>` runs it with the Node 24 that `npm start` installs.\n')
  process.exit(2)
}
await import('./cli-main.js')
