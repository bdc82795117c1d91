import { AggregationTemporality, type GaugeMetricData, type MetricData } from '@opentelemetry/sdk-metrics';
import { FailoverPool } from '@skein/stream';
import { describe, expect, it } from 'vitest';
import { observeStats, prometheusText } from '../src/index.js';
import { sum, telemetry } from './otel-harness.js';
import { statsSources } from './stats-sources.js';
import { cleanups } from '@skein/test-utils';

// A FailoverPool following discovery meets new server addresses with every deploy. The SDK keeps
// every attribute set an observable instrument ever reported (under delta temporality too), up to
// its cardinality limit (2,000 per instrument), then reports every new one, live servers' included,
// as one `otel.metric.overflow` point: series and memory grew with the churn, then the data was lost.

const cleanup = cleanups();

const points = (all: MetricData[], name: string) => (all.find((m) => m.descriptor.name === name) as GaugeMetricData | undefined)?.dataPoints ?? [];
const addresses = (all: MetricData[]) => new Set(points(all, 'skein.pool.state').map((p) => p.attributes.address));
const overflow = (all: MetricData[]) => all.flatMap((m) => (m as GaugeMetricData).dataPoints).filter((p) => p.attributes['otel.metric.overflow']).length;

/** Replaces the pool's two servers `steps` times, collecting after each, as an export interval would. */
async function churn(pool: FailoverPool, steps: number, collect: () => Promise<MetricData[]>, from = 0): Promise<MetricData[]> {
  let all: MetricData[] = [];
  for (let i = from; i < from + steps; i++) {
    await pool.replace([`10.1.${i >> 8}.${i & 255}:7000`, `10.2.${i >> 8}.${i & 255}:7000`]);
    all = await collect();
  }
  return all;
}

describe('observeStats under server churn', () => {
  it('gives the first maxAddresses servers their own series and sums the later ones under _OTHER', async () => {
    const { server, address, transport } = await statsSources(cleanup);
    const { meterProvider, collect } = telemetry();
    const pool = new FailoverPool({ transport, servers: [address] });
    cleanup.push(() => pool.close());
    const observation = observeStats({ servers: { api: server }, pools: { spread: pool }, meter: meterProvider.getMeter('churn'), maxAddresses: 4 });
    cleanup.push(() => observation.stop());
    await pool.call('Fast.ok');
    expect(sum(await collect(), 'skein.pool.state', { pool: 'spread', address, state: 'ready' })).toBe(1);

    const all = await churn(pool, 20, collect);
    // The first server and three of the churn's, and _OTHER: not 41 addresses.
    expect(addresses(all)).toEqual(new Set([address, '10.1.0.0:7000', '10.2.0.0:7000', '10.1.0.1:7000', '_OTHER']));
    // The two servers now in the pool are past the cap: their points are summed, a state's counting them.
    expect(sum(all, 'skein.pool.state', { pool: 'spread', address: '_OTHER', state: 'idle' })).toBe(2);
    expect(sum(all, 'skein.pool.server.healthy', { pool: 'spread', address: '_OTHER' })).toBe(2);
    expect(sum(all, 'skein.pool.server.circuit', { pool: 'spread', address: '_OTHER', state: 'closed' })).toBe(2);
    // Servers of the process have no address: untouched.
    expect(sum(all, 'skein.server.listeners', { server: 'api' })).toBe(1);
    // prometheusText keeps nothing between scrapes: every server in the pool now, by its address.
    expect(prometheusText({ pools: { spread: pool } })).toMatch(/address="10\.1\.0\.19:7000"/);
  });

  // Delta temporality too: the SDK's memo of observed sets is kept either way (only the export differs).
  it.each([
    ['cumulative', AggregationTemporality.CUMULATIVE],
    ['delta', AggregationTemporality.DELTA],
  ])('stays below the SDK cardinality limit by default (%s): live servers never end up in the overflow point', async (_, temporality) => {
    const { transport } = await statsSources(cleanup);
    const { meterProvider, collect } = telemetry(temporality);
    const pool = new FailoverPool({ transport, servers: ['10.0.0.1:7000'] });
    cleanup.push(() => pool.close());
    const observation = observeStats({ pools: { spread: pool }, meter: meterProvider.getMeter('churn') });
    cleanup.push(() => observation.stop());

    // 600 addresses: skein.pool.state has 5 points per address, the SDK 2,000 per instrument.
    const all = await churn(pool, 300, collect);
    expect(overflow(all)).toBe(0);
    // Cumulative exports every set it kept (gone servers' last values); delta the ones observed now.
    expect(addresses(all).size).toBe(temporality === AggregationTemporality.CUMULATIVE ? 256 + 1 : 1);
    expect(sum(all, 'skein.pool.state', { pool: 'spread', address: '_OTHER', state: 'idle' })).toBe(2);
  });
});

describe('observeStats maxAddresses', () => {
  it('refuses a cap that would bound nothing (NaN) or make no sense (negative, fractional)', () => {
    for (const maxAddresses of [Number.NaN, -1, 1.5]) {
      expect(() => observeStats({ servers: {}, pools: {}, maxAddresses })).toThrow(/maxAddresses must be an integer of 0 or more/);
    }
  });
});
