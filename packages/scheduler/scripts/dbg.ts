import { simulate } from '@p2p-mcp/consensus/sim'
import { SchedulerSim, SchedulerMachine } from '/work/wt/scheduler/packages/scheduler/test/support/sim-workload.ts'
const seed = 5, steps = 1500
const sim = new SchedulerSim(seed, steps)
const key = process.argv[2] ?? 't207'
const w = sim.workload()
const orig = w.createStateMachine
let mid = 0
w.createStateMachine = () => {
  const m = orig() as SchedulerMachine
  const id = mid++
  const ap = m.apply.bind(m)
  m.apply = (e) => {
    const env = JSON.parse(new TextDecoder().decode(e.data))
    const r = ap(e) as unknown[]
    env.cmds?.forEach((c: any, i: number) => {
      if (c.taskId === key || c.type === 'steal' || c.type === 'register' || c.type === 'tick') {
        const t = m.state.getTask(`wf-${seed}`, key)
        if (c.taskId === key || (t && (c.type !== 'tick'))) console.log(`m${id} idx${e.index} ${JSON.stringify(c).slice(0,120)} -> ${JSON.stringify(r?.[i]).slice(0,100)} task=${t?.owner}@${t?.epoch}/${t?.state}`)
      }
    })
    return r
  }
  const rs = m.restore.bind(m)
  m.restore = (d) => { rs(d); const t = m.state.getTask(`wf-${seed}`, key); console.log(`m${id} RESTORE idx${m.lastIndex} task=${t?.owner}@${t?.epoch}/${t?.state}`) }
  return m
}
const r = simulate({ seed, workload: w, clients: sim.clientCount, steps, checkLinearizability: false })
console.log(sim.report().violations, JSON.stringify(sim.executions.get(`wf-${seed}/${key}`)))
