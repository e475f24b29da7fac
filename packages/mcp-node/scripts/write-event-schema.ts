// Writes schemas/mesh-event.schema.json from the zod schema (a test checks they agree).
import { writeFileSync } from 'node:fs'
import { meshEventJsonSchema } from '../src/events/event-format.js'

writeFileSync(new URL('../schemas/mesh-event.schema.json', import.meta.url), JSON.stringify(meshEventJsonSchema(), null, 2) + '\n')
