import { readStats, type Labels, type StatsFamily, type StatsSources } from './stats-samples.js';

/** The `Content-Type` of the text format, for the HTTP answer to a scrape. */
export const PROMETHEUS_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

/** What `prometheusText` reads: the same sources as `observeStats`. */
export type PrometheusSources = StatsSources;

/**
 * `stats()` of servers and pools in Prometheus's text exposition format (0.0.4), read at the
 * moment of the call: serve it from any HTTP handler with PROMETHEUS_CONTENT_TYPE, or hand it
 * to whatever exporter collects text. Each family is written once, its samples together under
 * one HELP and one TYPE line.
 */
export function prometheusText(sources: PrometheusSources): string {
  const families = new Map<StatsFamily, string[]>();
  readStats(sources, (f, labels, value) => {
    let samples = families.get(f);
    if (!samples) families.set(f, (samples = []));
    samples.push(`${f.prometheusName}${labelText(labels)} ${formatValue(value)}`);
  });
  let out = '';
  for (const [f, samples] of families) out += `# HELP ${f.prometheusName} ${f.help}\n# TYPE ${f.prometheusName} ${f.type}\n${samples.join('\n')}\n`;
  return out;
}

function labelText(labels: Labels): string {
  const parts = Object.entries(labels).map(([k, v]) => `${k}="${escapeLabel(v)}"`);
  return parts.length === 0 ? '' : `{${parts.join(',')}}`;
}

/** The text format's three escapes in label values: backslash, double quote, line feed. */
function escapeLabel(v: string): string {
  return v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}

function formatValue(v: number): string {
  if (Number.isNaN(v)) return 'NaN';
  if (v === Infinity) return '+Inf';
  if (v === -Infinity) return '-Inf';
  return String(v);
}
