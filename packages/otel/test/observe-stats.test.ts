import { AggregationTemporality, DataPointType, type GaugeMetricData, type MetricData, type SumMetricData } from '@opentelemetry/sdk-metrics';
import parse from 'parse-prometheus-text-format';
import { describe, expect, it } from 'vitest';
import { observeStats, prometheusText, type StatsSources } from '../src/index.js';
import { sum, telemetry } from './otel-harness.js';
import { statsSources } from './stats-sources.js';
import { cleanups } from '@skein/test-utils';

const cleanup = cleanups();

interface ParsedFamily {
  name: string;
  type: string;
  metrics: { labels?: Record<string, string>; value: string }[];
}

/** Every gauge and counter point of a collection as `name{labels} value`, named the Prometheus way. */
function asPrometheus(all: MetricData[]): string[] {
  const out: string[] = [];
  for (const m of all) {
    if (m.dataPointType !== DataPointType.GAUGE && m.dataPointType !== DataPointType.SUM) continue;
    const name = m.descriptor.name.replace(/\./g, '_') + (m.dataPointType === DataPointType.SUM ? '_total' : '');
    for (const p of (m as GaugeMetricData | SumMetricData).dataPoints) out.push(`${name}${JSON.stringify(sorted(p.attributes as Record<string, string>))} ${p.value}`);
  }
  return out.sort();
}

function sorted(labels: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(labels).sort(([a], [b]) => (a < b ? -1 : 1)));
}

describe('observeStats', () => {
  it("observes servers' and pools' stats as gauges, the series prometheusText writes", async () => {
    const { gate, server, address, pool, failover } = await statsSources(cleanup);
    const { meterProvider, collect } = telemetry();
    let reads = 0;
    const counted = { stats: () => (reads++, server.stats()) };
    const sources: StatsSources = { servers: { api: counted }, pools: { direct: pool, spread: failover } };
    const observation = observeStats({ ...sources, meter: meterProvider.getMeter('skein-stats') });

    const waiting = [pool.call('Slow.wait'), pool.call('Slow.wait'), failover.call('Slow.wait')].map((c) => c.then(() => 'ok', (e: unknown) => e));
    await pool.call('Fast.ok');
    await failover.call('Fast.ok');
    await expect.poll(() => server.stats().inFlight).toBe(3);
    const all = await collect();
    // One reading per collection, whatever the number of instruments.
    expect(reads).toBe(1);

    expect(sum(all, 'skein.server.in_flight', { server: 'api' })).toBe(3);
    expect(sum(all, 'skein.server.listeners', { server: 'api' })).toBe(1);
    expect(sum(all, 'skein.server.state', { server: 'api', state: 'running' })).toBe(1);
    expect(sum(all, 'skein.server.state', { server: 'api', state: 'closed' })).toBe(0);
    expect(sum(all, 'skein.pool.in_flight', { pool: 'direct', address })).toBe(2);
    expect(sum(all, 'skein.pool.state', { pool: 'direct', address, state: 'ready' })).toBe(1);
    expect(sum(all, 'skein.pool.in_flight', { pool: 'spread', address })).toBe(1);
    expect(sum(all, 'skein.pool.server.healthy', { pool: 'spread', address })).toBe(1);
    expect(sum(all, 'skein.pool.connections', { pool: 'spread', address: '127.0.0.1:1' })).toBe(0);
    const accepted = all.find((m) => m.descriptor.name === 'skein.server.accepted_connections')!;
    expect(accepted.dataPointType).toBe(DataPointType.SUM);
    expect((accepted as SumMetricData).isMonotonic).toBe(true);
    expect(all.find((m) => m.descriptor.name === 'skein.server.in_flight')!.dataPointType).toBe(DataPointType.GAUGE);

    // Point for point what the text format gives (read in the same state: nothing moves while the calls wait).
    const text = (parse(prometheusText(sources)) as ParsedFamily[]).flatMap((f) =>
      f.metrics.map((m) => `${f.name}${JSON.stringify(sorted(m.labels ?? {}))} ${Number(m.value)}`),
    );
    expect(asPrometheus(all)).toEqual(text.sort());

    gate.resolve();
    expect(await Promise.all(waiting)).toEqual(['ok', 'ok', 'ok']);
    expect(sum(await collect(), 'skein.server.in_flight', { server: 'api' })).toBe(0);

    const before = reads;
    observation.stop();
    await collect();
    expect(reads).toBe(before);
  });

  it('stops reporting a server or pool once it is closed: the next collection has no point of it', async () => {
    const { server, address, pool, failover } = await statsSources(cleanup);
    // Delta: the JavaScript SDK goes on exporting, under cumulative temporality, the last value of
    // an attribute set no callback observes any more (the specification says it should not).
    const { meterProvider, collect } = telemetry(AggregationTemporality.DELTA);
    // A second server stays open: its series go on, so the callback still runs.
    const { server: other } = await statsSources(cleanup);
    const observation = observeStats({ servers: { api: server, other }, pools: { direct: pool, spread: failover }, meter: meterProvider.getMeter('skein-stats') });
    cleanup.push(() => observation.stop());
    await pool.call('Fast.ok');
    await failover.call('Fast.ok');
    const points = (all: MetricData[], label: string, value: string): number =>
      all.flatMap((m) => (m as GaugeMetricData | SumMetricData).dataPoints ?? []).filter((p) => p.attributes[label] === value).length;
    const open = await collect();
    expect(points(open, 'server', 'api')).toBeGreaterThan(0);
    expect(points(open, 'pool', 'direct')).toBeGreaterThan(0);
    expect(points(open, 'pool', 'spread')).toBeGreaterThan(0);
    expect(sum(open, 'skein.pool.state', { pool: 'spread', address, state: 'ready' })).toBe(1);

    await pool.close();
    await failover.close();
    await server.close();
    const closed = await collect();
    expect(points(closed, 'server', 'api')).toBe(0);
    expect(points(closed, 'pool', 'direct')).toBe(0);
    expect(points(closed, 'pool', 'spread')).toBe(0);
    expect(sum(closed, 'skein.server.listeners', { server: 'other' })).toBe(1);
    // prometheusText reads the same way: no sample of what is closed.
    const text = prometheusText({ servers: { api: server, other }, pools: { direct: pool, spread: failover } });
    expect(text).not.toMatch(/server="api"|pool="direct"|pool="spread"/);
    expect(text).toMatch(/server="other"/);
  });
});
