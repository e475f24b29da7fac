#!/usr/bin/env python3
"""Golden vectors for @p2p-mcp/merkle-clock, computed the way the IPFS Accelerate seed does.

The seed's MerkleClock.get_hash() (ipfs_accelerate_py/p2p_workflow_scheduler.py) is
    hashlib.sha256(json.dumps(sorted(self.vector.items()), sort_keys=True).encode()).hexdigest()
`seed_get_hash` below is that expression. `canonical_hash` is an independent implementation
of the package's canonical hash (sha256 of the DAG-CBOR array of [id, counter] pairs with
counter > 0, sorted by code point), written from the README's definition.

Run from the package directory (output is committed beside this script):
    python3 test/golden/python_json_hash.py > test/golden/python-json-vectors.json
"""
import hashlib
import json
import random
import struct
import sys


def seed_get_hash(vector):
    return hashlib.sha256(json.dumps(sorted(vector.items()), sort_keys=True).encode()).hexdigest()


def cbor_head(major, n):
    if n < 24:
        return bytes([major << 5 | n])
    for info, fmt in ((24, '>B'), (25, '>H'), (26, '>I'), (27, '>Q')):
        if n < 1 << (8 * struct.calcsize(fmt)):
            return bytes([major << 5 | info]) + struct.pack(fmt, n)
    raise ValueError(n)


def canonical_hash(vector):
    pairs = sorted((k, v) for k, v in vector.items() if v > 0)
    out = cbor_head(4, len(pairs))
    for k, v in pairs:
        utf8 = k.encode('utf-8')
        out += cbor_head(4, 2) + cbor_head(3, len(utf8)) + utf8 + cbor_head(0, v)
    return hashlib.sha256(out).hexdigest()


def case(name, node_id, entries):
    vector = {}
    for k, v in entries:
        vector[k] = v
    # The seed's __post_init__: a clock always holds its own entry.
    if node_id not in vector:
        vector[node_id] = 0
        entries = entries + [[node_id, 0]]
    return {
        'name': name,
        'node_id': node_id,
        'entries': [[k, v] for k, v in entries],
        'python_json': json.dumps(sorted(vector.items()), sort_keys=True),
        'python_json_hash': seed_get_hash(vector),
        'canonical_hash': canonical_hash(vector),
    }


def main():
    cases = [
        case('fresh clock', 'node-123', []),
        case('ticked once', 'node-123', [['node-123', 1]]),
        case('two peers', 'peerA', [['peerB', 2], ['peerA', 1]]),
        case('zero entry merged in', 'peerA', [['peerA', 1], ['peerB', 2], ['peerC', 0]]),
        case('quotes and backslashes', 'q', [['say "hi"', 3], ['back\\slash', 4], ["it's", 5], ['q', 1]]),
        case('control characters', 'c', [['tab\there', 1], ['nl\nx', 2], ['nul\x00', 3], ['del\x7f', 4],
                                          ['bell\x07', 5], ['cr\r', 6], ['ff\f', 7], ['bs\b', 8], ['c', 9]]),
        case('non-ASCII', 'noeud-é', [['noeud-é', 2], ['узел', 3], ['节点', 4], ['ß', 5], ['\u2028sep', 6]]),
        case('astral vs private use order', '\U0001F600', [['\U0001F600', 1], ['\uE000', 2], ['\uFFFD', 3],
                                                            ['\U00020000', 4], ['z', 5], ['\u00ff', 6]]),
        case('empty id and slash', '', [['', 1], ['a/b', 2], ['</script>', 3]]),
        case('large counters', 'big', [['big', 2 ** 53 - 1], ['mid', 2 ** 32], ['small', 23], ['edge', 24],
                                       ['b255', 255], ['b256', 256], ['b65535', 65535], ['b65536', 65536]]),
        case('numeric-looking ids', '10', [['10', 1], ['9', 2], ['1', 3], ['01', 4], ['-1', 5]]),
    ]
    rng = random.Random(20261121)
    alphabet = 'abcXYZ019"\\\n\x01é中\U0001F680\uFFFF\uE000'
    for i in range(8):
        entries = []
        for _ in range(rng.randint(1, 60)):
            ident = ''.join(rng.choice(alphabet) for _ in range(rng.randint(0, 8)))
            entries.append([ident, rng.choice([0, 0, 1, rng.randint(0, 2 ** 40)])])
        case_entries = list({k: v for k, v in entries}.items())
        rng.shuffle(case_entries)
        cases.append(case(f'random {i}', case_entries[0][0], [list(p) for p in case_entries]))
    json.dump({'generator': 'test/golden/python_json_hash.py', 'python': sys.version.split()[0], 'cases': cases},
              sys.stdout, ensure_ascii=True, indent=1)
    sys.stdout.write('\n')


if __name__ == '__main__':
    main()
