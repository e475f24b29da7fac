import { describe, expect, it } from 'vitest'
import { StallClock } from '../src/stall-clock.js'

describe('StallClock', () => {
  it('records a late tick as a stall and reports its overlap with a span', () => {
    let now = 0
    const clock = new StallClock(10, () => now)
    clock.start()
    try {
      clock.tick(10)
      clock.tick(20)
      clock.tick(100) // due at 30: stalled from 30 to 100
      clock.tick(110)
      expect(clock.stalled(0, 20)).toBe(0)
      expect(clock.stalled(25, 105)).toBe(70)
      expect(clock.stalled(50, 60)).toBe(10)
      expect(clock.stalled(90, 115)).toBe(10)
      expect(clock.stalled(101, 110)).toBe(0)
      // Jitter under half an interval is not a stall.
      clock.tick(124)
      expect(clock.stalled(110, 124)).toBe(0)
      // A stall still going on (timer overdue) counts up to now.
      now = 180
      expect(clock.stalled(150, 180)).toBe(30)
      expect(clock.stalled(100, 180)).toBe(180 - 134)
    } finally {
      clock.stop()
    }
  })

  it('keeps the latest stalls only, and sums several', () => {
    const clock = new StallClock(10, () => 0, 4)
    clock.start()
    try {
      let t = 0
      for (let i = 0; i < 10; i++) {
        t += 10
        clock.tick(t)
        t += 30 // every other tick is 20 ms late
        clock.tick(t)
      }
      // The ring holds the last 4 stalls of 20 ms each.
      expect(clock.stalled(0, t)).toBe(80)
      expect(clock.stalled(t - 40, t)).toBe(20)
    } finally {
      clock.stop()
    }
  })
})
