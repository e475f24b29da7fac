import { execFileSync } from 'node:child_process'
import { mkdirSync } from 'node:fs'

/**
 * Mounts a small tmpfs at `dir` so that a test can fill a disk for real (ENOSPC). Needs
 * CAP_SYS_ADMIN; returns undefined without it. Unmount with `unmountTmpfs`.
 */
export function mountTmpfs (dir: string, bytes: number): string | undefined {
  mkdirSync(dir, { recursive: true })
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${bytes}`, 'tmpfs', dir], { stdio: 'ignore' })
    return dir
  } catch {
    return undefined
  }
}

export function unmountTmpfs (dir: string | undefined): void {
  if (dir !== undefined) execFileSync('umount', ['-l', dir])
}
