// The example as the README runs it: a child process that starts two MCP servers and runs the workflow.
import { execFile } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { expect, it } from 'vitest'

it('runs the fan-out/fan-in workflow to the sum of squares and records it once', async () => {
  const { stdout } = await promisify(execFile)(process.execPath, [fileURLToPath(new URL('../run.mjs', import.meta.url))], { timeout: 60_000 })
  expect(stdout).toContain('workflow completed: 9/9 tasks completed; sum of squares = 30')
  expect(stdout).toContain('note: 1. 30')
}, 90_000)
