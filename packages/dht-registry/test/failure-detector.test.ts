import { describe, expect, it } from 'vitest'
import { FailureDetector, InvalidParametersError } from '../src/index.js'
import type { LivenessEventDetail, ProbeFn } from '../src/index.js'

/** A detector on a hand-driven clock; probes answer as `outcome` says, after `delayMs` of that clock. */
function setup (init: { outcome?: 'answer' | 'refuse' | 'hang', connected?: boolean, probe?: boolean } = {}) {
  let now = 1_000_000
  const events: Array<[string, LivenessEventDetail]> = []
  const probes: string[] = []
  const pending: Array<() => void> = []
  const probe: ProbeFn = async (peerId, signal) => {
    probes.push(peerId)
    if (init.outcome === 'refuse') throw new Error('connection refused')
    if (init.outcome === 'hang') {
      await new Promise<void>((resolve, reject) => {
        signal.addEventListener('abort', () => { reject(signal.reason as Error) })
        pending.push(resolve)
      })
    }
  }
  const fd = new FailureDetector({
    heartbeatIntervalMs: 500,
    missedHeartbeats: 3,
    suspectTimeoutHeartbeats: 10,
    probeTimeoutMs: 20,
    now: () => now,
    isConnected: () => init.connected ?? false,
    ...(init.probe === false ? {} : { probe }),
  })
  for (const type of ['peer:suspect', 'peer:alive', 'peer:dead'] as const) {
    fd.addEventListener(type, (e) => { events.push([type, e.detail]) })
  }
  return {
    fd,
    events,
    probes,
    advance: (ms: number) => { now += ms },
    now: () => now,
    settle: async () => { for (let i = 0; i < 5; i++) await new Promise((resolve) => setImmediate(resolve)) },
  }
}

describe('FailureDetector', () => {
  it('keeps a peer that heartbeats, suspects a silent one after missedHeartbeats intervals', () => {
    const t = setup({ outcome: 'hang', connected: true })
    t.fd.heartbeat('a', { intervalMs: 500 })
    for (let i = 0; i < 10; i++) {
      t.advance(500)
      t.fd.heartbeat('a')
      t.fd.check()
    }
    expect(t.fd.state('a')).toBe('alive')
    t.advance(1_499)
    t.fd.check()
    expect(t.fd.state('a')).toBe('alive')
    t.advance(1)
    t.fd.check()
    expect(t.fd.state('a')).toBe('suspect')
    expect(t.events.map(([type]) => type)).toEqual(['peer:suspect'])
    expect(t.probes).toEqual(['a'])
  })

  it('declares a silent peer dead when its probe is refused', async () => {
    const t = setup({ outcome: 'refuse' })
    t.fd.heartbeat('a', { intervalMs: 500 })
    t.advance(1_500)
    t.fd.check()
    await t.settle()
    expect(t.fd.state('a')).toBe('dead')
    expect(t.events.map(([type, d]) => [type, d.reason])).toEqual([['peer:suspect', undefined], ['peer:dead', 'probe-refused']])
  })

  it('keeps an alive-but-slow peer whose probe answers, and probes again after each further silence', async () => {
    const t = setup({ outcome: 'answer' })
    t.fd.heartbeat('slow', { intervalMs: 500 })
    for (let i = 0; i < 6; i++) {
      t.advance(1_500)
      t.fd.check()
      await t.settle()
      expect(t.fd.state('slow')).toBe('alive')
    }
    expect(t.probes).toHaveLength(6)
    expect(t.events.filter(([type]) => type === 'peer:dead')).toEqual([])
  })

  it('a probe that times out on an open connection leaves the peer suspect until suspectTimeoutHeartbeats', async () => {
    const t = setup({ outcome: 'hang', connected: true })
    t.fd.heartbeat('frozen', { intervalMs: 500 })
    t.advance(1_500)
    t.fd.check()
    await new Promise((resolve) => setTimeout(resolve, 60))
    expect(t.fd.state('frozen')).toBe('suspect')
    t.advance(3_499)
    t.fd.check()
    await new Promise((resolve) => setTimeout(resolve, 60))
    expect(t.fd.state('frozen')).toBe('suspect')
    t.advance(1)
    t.fd.check()
    expect(t.fd.state('frozen')).toBe('dead')
    expect(t.events.at(-1)?.[1].reason).toBe('suspect-timeout')
  })

  it('a probe that times out with no connection open is not proof of death (our own dial may be slow)', async () => {
    const t = setup({ outcome: 'hang', connected: false })
    t.fd.heartbeat('far', { intervalMs: 500 })
    t.advance(1_500)
    t.fd.check()
    await new Promise((resolve) => setTimeout(resolve, 60))
    expect(t.fd.state('far')).toBe('suspect')
  })

  it('a probe that fails while a connection stays open leaves the peer suspect', async () => {
    const t = setup({ outcome: 'refuse', connected: true })
    t.fd.heartbeat('busy', { intervalMs: 500 })
    t.advance(1_500)
    t.fd.check()
    await t.settle()
    expect(t.fd.state('busy')).toBe('suspect')
  })

  it('without a probe, silence alone decides', () => {
    const t = setup({ probe: false })
    t.fd.heartbeat('a', { intervalMs: 500 })
    t.advance(1_500)
    t.fd.check()
    expect(t.fd.state('a')).toBe('dead')
    expect(t.events.at(-1)?.[1].reason).toBe('no-probe')
  })

  it('an old second-hand record never makes a silent peer look alive; a fresh heartbeat revives a suspect', () => {
    const t = setup({ outcome: 'hang', connected: true })
    t.fd.heartbeat('a', { intervalMs: 500 })
    t.advance(2_000)
    t.fd.check()
    expect(t.fd.state('a')).toBe('suspect')
    t.fd.heartbeat('a', { at: t.now() - 1_900 })
    expect(t.fd.state('a')).toBe('suspect')
    t.fd.heartbeat('a', { at: t.now() - 100 })
    expect(t.fd.state('a')).toBe('alive')
    expect(t.events.map(([type]) => type)).toEqual(['peer:suspect', 'peer:alive'])
  })

  it('counts peers by state and forgets them', async () => {
    const t = setup({ outcome: 'refuse' })
    t.fd.heartbeat('a')
    t.fd.heartbeat('b')
    t.advance(1_000)
    t.fd.heartbeat('b')
    t.advance(5_000)
    t.fd.heartbeat('b')
    t.fd.check()
    await t.settle()
    expect(t.fd.counts()).toEqual({ alive: 1, suspect: 0, dead: 1 })
    t.fd.forget('a')
    expect(t.fd.state('a')).toBeUndefined()
  })

  it('a report of death from another peer only starts a probe; a refused probe kills, an open connection keeps', async () => {
    const gone = setup({ outcome: 'refuse' })
    gone.fd.heartbeat('a', { intervalMs: 500 })
    gone.advance(600)
    expect(gone.fd.reportDead('a')).toBe(true)
    await gone.settle()
    expect(gone.fd.state('a')).toBe('dead')
    const kept = setup({ outcome: 'refuse', connected: true })
    kept.fd.heartbeat('a', { intervalMs: 500 })
    kept.advance(600)
    expect(kept.fd.reportDead('a')).toBe(false)
    expect(kept.fd.state('a')).toBe('alive')
    const fresh = setup({ outcome: 'refuse' })
    fresh.fd.heartbeat('a', { intervalMs: 500 })
    fresh.advance(100)
    expect(fresh.fd.reportDead('a')).toBe(false)
  })

  it('a closed last connection makes it probe at once; refused means dead without waiting for silence', async () => {
    const t = setup({ outcome: 'refuse' })
    t.fd.heartbeat('a', { intervalMs: 500 })
    t.advance(10)
    t.fd.connectionClosed('a')
    await t.settle()
    expect(t.fd.state('a')).toBe('dead')
    expect(t.events.map(([type]) => type)).toEqual(['peer:dead'])
  })

  it('rejects bad options with a typed error naming the value', () => {
    expect(() => new FailureDetector({ heartbeatIntervalMs: 0 })).toThrow(InvalidParametersError)
    expect(() => new FailureDetector({ missedHeartbeats: 5, suspectTimeoutHeartbeats: 4 })).toThrow(/suspectTimeoutHeartbeats/)
  })
})
