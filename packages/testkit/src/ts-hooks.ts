// Loaded with `node --import` into peer processes (see spawnPeer): lets Node's type
// stripping run workspace sources whose imports say `./x.js` for a file `./x.ts`, as
// TypeScript with NodeNext resolution wants them written.
import { registerHooks } from 'node:module'

registerHooks({
  resolve (specifier, context, nextResolve) {
    try {
      return nextResolve(specifier, context)
    } catch (err) {
      const relative = specifier.startsWith('.') || specifier.startsWith('/') || specifier.startsWith('file:')
      if (!relative || !specifier.endsWith('.js') || (err as { code?: string }).code !== 'ERR_MODULE_NOT_FOUND') throw err
      return nextResolve(`${specifier.slice(0, -3)}.ts`, context)
    }
  },
})
