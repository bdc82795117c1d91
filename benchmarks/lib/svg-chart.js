/**
 * A hand-written SVG chart of one suite: a throughput bar per scenario on the left (linear, so
 * bar lengths compare honestly), and p50 / p99 latency on the right on a log scale (latencies
 * span four decades between 1 and 256 in flight). No dependencies: the docs only need bars.
 */
const WIDTH = 1000;
const LABEL_W = 200;
const PANEL_W = 290;
const GAP = 70; // room for the throughput value after the longest bar
const ROW_H = 26;
const TOP = 58;
const BOTTOM = 40;
const LEFT_X = LABEL_W;
const RIGHT_X = LABEL_W + PANEL_W + GAP;
const COLORS = { bar: '#3b6ea5', p50: '#8fb8de', p99: '#c0504d', grid: '#dddddd', text: '#222222' };

/** rows: `{ label, throughput, p50, p99 }`; `unit` names the throughput ("calls/s", "MB/s"). */
export function suiteChart({ title, unit, rows }) {
  const height = TOP + rows.length * ROW_H + BOTTOM;
  const maxThroughput = Math.max(...rows.map((r) => r.throughput), 1);
  const latency = logScale(rows.flatMap((r) => [r.p50, r.p99]));
  const parts = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${height}" viewBox="0 0 ${WIDTH} ${height}" font-family="sans-serif" font-size="12">`,
    `<rect width="${WIDTH}" height="${height}" fill="#ffffff"/>`,
    text(10, 20, title, { size: 15, weight: 'bold' }),
    text(LEFT_X, 44, `throughput (${unit}, higher is better)`, { weight: 'bold' }),
    text(RIGHT_X, 44, 'latency, log scale (lower is better):', { weight: 'bold' }),
    legend(RIGHT_X + PANEL_W - 80, 20),
    ...latency.ticks.map((t) => tick(RIGHT_X + latency.x(t), height, formatUs(t))),
    ...rows.flatMap((r, i) => row(r, TOP + i * ROW_H, maxThroughput, latency)),
    '</svg>',
  ];
  return `${parts.join('\n')}\n`;
}

function row(r, y, maxThroughput, latency) {
  const w = (r.throughput / maxThroughput) * PANEL_W;
  return [
    text(LABEL_W - 8, y + 15, r.label, { anchor: 'end' }),
    rect(LEFT_X, y + 4, w, ROW_H - 8, COLORS.bar),
    text(LEFT_X + w + 4, y + 16, formatNumber(r.throughput)),
    rect(RIGHT_X, y + 3, latency.x(r.p50), 9, COLORS.p50),
    rect(RIGHT_X, y + 13, latency.x(r.p99), 9, COLORS.p99),
    text(RIGHT_X + latency.x(r.p99) + 4, y + 20, `${formatUs(r.p50)} / ${formatUs(r.p99)}`, { size: 10 }),
  ];
}

/** Decades from below the smallest value to above the largest, mapped onto the panel. */
function logScale(values) {
  const positive = values.filter((v) => v > 0);
  const lo = Math.floor(Math.log10(Math.min(...positive, 1)));
  const hi = Math.ceil(Math.log10(Math.max(...positive, 10)));
  const span = Math.max(hi - lo, 1);
  const ticks = [];
  for (let d = lo; d <= hi; d++) ticks.push(10 ** d);
  const x = (v) => (v > 0 ? ((Math.log10(v) - lo) / span) * PANEL_W : 0);
  return { x, ticks };
}

function legend(x, y) {
  return [
    rect(x, y - 9, 10, 10, COLORS.p50),
    text(x + 14, y, 'p50'),
    rect(x + 44, y - 9, 10, 10, COLORS.p99),
    text(x + 58, y, 'p99'),
  ].join('');
}

function tick(x, height, label) {
  return `<line x1="${x.toFixed(1)}" y1="${TOP - 4}" x2="${x.toFixed(1)}" y2="${height - BOTTOM + 4}" stroke="${COLORS.grid}"/>${text(x, height - BOTTOM + 18, label, { anchor: 'middle', size: 10 })}`;
}

const rect = (x, y, w, h, fill) => `<rect x="${x.toFixed(1)}" y="${y}" width="${Math.max(w, 1).toFixed(1)}" height="${h}" fill="${fill}"/>`;

function text(x, y, s, { anchor = 'start', size = 12, weight = 'normal' } = {}) {
  return `<text x="${Number(x).toFixed(1)}" y="${y}" text-anchor="${anchor}" font-size="${size}" font-weight="${weight}" fill="${COLORS.text}">${escapeXml(s)}</text>`;
}

const escapeXml = (s) => String(s).replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

function formatNumber(n) {
  if (n >= 1e6) return `${(n / 1e6).toFixed(2)} M`;
  if (n >= 1e4) return `${(n / 1e3).toFixed(0)} k`;
  if (n >= 1e3) return `${(n / 1e3).toFixed(1)} k`;
  return n.toFixed(n >= 100 ? 0 : 1);
}

function formatUs(us) {
  if (us >= 1e6) return `${Number((us / 1e6).toFixed(us >= 1e7 ? 0 : 1))} s`;
  if (us >= 1e3) return `${Number((us / 1e3).toFixed(us >= 1e4 ? 0 : 1))} ms`;
  return `${us >= 10 ? Math.round(us) : Number(us.toFixed(1))} µs`;
}
