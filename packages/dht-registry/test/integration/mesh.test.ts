import { defineMeshSuite } from './mesh-suite.js'

// the issue 18 suite with 10 peers; 30 peers run as a script (bench/mesh30.scale.ts)
defineMeshSuite(10)
