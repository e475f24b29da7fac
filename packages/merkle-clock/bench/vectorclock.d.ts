// vectorclock (mixu) ships no types; the part the benchmark uses.
declare module 'vectorclock' {
  type Clock = Record<string, number>
  export function merge (a: Clock, b: Clock): Clock
  export function compare (a: Clock, b: Clock): -1 | 0 | 1
  export function increment (o: Clock, nodeId: string): Clock
}
