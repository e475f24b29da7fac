import type { Client } from '@modelcontextprotocol/sdk/client/index.js'
import type { ToolAnnotations } from '@modelcontextprotocol/sdk/types.js'
import { describe } from './session.js'
import type { Logger } from './types.js'

/** Tool annotations, learnt from `tools/list` of the first session the pool opens and refreshed on `list_changed`. */
export class ToolCatalog {
  private readonly known = new Map<string, ToolAnnotations | undefined>()
  private readonly given: Readonly<Record<string, ToolAnnotations>>
  private loading: Promise<void> | undefined
  loaded = false

  constructor (given: Readonly<Record<string, ToolAnnotations>>) {
    this.given = given
  }

  refresh (client: Client, timeoutMs: number, logger: Logger): void {
    if (this.loading !== undefined) return
    this.loading = (async () => {
      const next = new Map<string, ToolAnnotations | undefined>()
      let cursor: string | undefined
      do {
        const page = await client.listTools(cursor === undefined ? {} : { cursor }, { timeout: timeoutMs })
        for (const tool of page.tools) next.set(tool.name, tool.annotations)
        cursor = page.nextCursor
      } while (cursor !== undefined)
      this.known.clear()
      for (const [k, v] of next) this.known.set(k, v)
      this.loaded = true
    })().catch((err: unknown) => { logger.debug('tools/list for annotations failed: %s', describe(err)) })
      .finally(() => { this.loading = undefined })
  }

  async safe (tool: string): Promise<boolean> {
    let a: ToolAnnotations | undefined = this.given[tool]
    if (a === undefined) {
      if (!this.known.has(tool) && this.loading !== undefined) await this.loading
      a = this.known.get(tool)
    }
    return a?.readOnlyHint === true || a?.idempotentHint === true
  }
}

