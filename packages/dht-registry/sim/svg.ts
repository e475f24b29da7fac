/** A line chart as standalone SVG: log-scaled x (peers), linear or log y. No dependencies. */
export interface Chart {
  title: string
  xLabel: string
  yLabel: string
  x: number[]
  series: Array<{ name: string, y: number[] }>
  logY?: boolean
}

const COLORS = ['#1f77b4', '#d62728', '#2ca02c', '#9467bd', '#ff7f0e']
const W = 640
const H = 400
const M = { left: 80, right: 20, top: 40, bottom: 90 }

const esc = (s: string): string => s.replace(/&/g, '&amp;').replace(/</g, '&lt;')

function fmt (v: number): string {
  if (v >= 1e6) return `${Math.round(v / 1e5) / 10}M`
  if (v >= 1e3) return `${Math.round(v / 100) / 10}k`
  return `${Math.round(v * 100) / 100}`
}

export function lineChart (c: Chart): string {
  const xs = c.x.map(Math.log10)
  const ys = c.series.flatMap((s) => s.y).filter((v) => Number.isFinite(v) && (!c.logY || v > 0))
  const yMin = c.logY ? Math.floor(Math.log10(Math.min(...ys))) : 0
  const yMax = c.logY ? Math.ceil(Math.log10(Math.max(...ys))) : Math.max(...ys) * 1.1
  const x0 = Math.min(...xs)
  const x1 = Math.max(...xs)
  const px = (x: number): number => M.left + (Math.log10(x) - x0) / (x1 - x0 || 1) * (W - M.left - M.right)
  const py = (y: number): number => {
    const v = c.logY ? Math.log10(Math.max(y, 10 ** yMin)) : y
    return H - M.bottom - (v - yMin) / (yMax - yMin || 1) * (H - M.top - M.bottom)
  }
  const out: string[] = [`<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" font-family="sans-serif" font-size="12">`,
    `<rect width="${W}" height="${H}" fill="white"/>`,
    `<text x="${W / 2}" y="22" text-anchor="middle" font-size="14">${esc(c.title)}</text>`,
    `<line x1="${M.left}" y1="${H - M.bottom}" x2="${W - M.right}" y2="${H - M.bottom}" stroke="black"/>`,
    `<line x1="${M.left}" y1="${M.top}" x2="${M.left}" y2="${H - M.bottom}" stroke="black"/>`]
  for (const x of c.x) {
    out.push(`<line x1="${px(x)}" y1="${H - M.bottom}" x2="${px(x)}" y2="${H - M.bottom + 5}" stroke="black"/>`,
      `<text x="${px(x)}" y="${H - M.bottom + 18}" text-anchor="middle">${fmt(x)}</text>`)
  }
  const ticks = c.logY ? Array.from({ length: yMax - yMin + 1 }, (_, i) => 10 ** (yMin + i)) : Array.from({ length: 6 }, (_, i) => yMax * i / 5)
  for (const t of ticks) {
    out.push(`<line x1="${M.left - 5}" y1="${py(t)}" x2="${W - M.right}" y2="${py(t)}" stroke="#ddd"/>`,
      `<text x="${M.left - 8}" y="${py(t) + 4}" text-anchor="end">${fmt(t)}</text>`)
  }
  out.push(`<text x="${(M.left + W - M.right) / 2}" y="${H - M.bottom + 36}" text-anchor="middle">${esc(c.xLabel)} (log scale)</text>`,
    `<text transform="translate(18 ${(M.top + H - M.bottom) / 2}) rotate(-90)" text-anchor="middle">${esc(c.yLabel)}${c.logY ? ' (log scale)' : ''}</text>`)
  c.series.forEach((s, i) => {
    const color = COLORS[i % COLORS.length]!
    const pts = s.y.map((y, j) => Number.isFinite(y) ? `${px(c.x[j]!).toFixed(1)},${py(y).toFixed(1)}` : '').filter(Boolean)
    out.push(`<polyline fill="none" stroke="${color}" stroke-width="2" points="${pts.join(' ')}"/>`)
    for (const p of pts) out.push(`<circle cx="${p.split(',')[0]}" cy="${p.split(',')[1]}" r="3" fill="${color}"/>`)
    const lx = M.left + (i % 2) * 280
    const ly = H - 30 + Math.floor(i / 2) * 16
    out.push(`<rect x="${lx}" y="${ly - 9}" width="14" height="4" fill="${color}"/>`, `<text x="${lx + 20}" y="${ly - 4}">${esc(s.name)}</text>`)
  })
  out.push('</svg>')
  return `${out.join('\n')}\n`
}
