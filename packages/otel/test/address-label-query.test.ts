import type { GaugeMetricData, MetricData } from '@opentelemetry/sdk-metrics';
import { ConnPool, FailoverPool } from '@skein/stream';
import { cleanups } from '@skein/test-utils';
import parse from 'parse-prometheus-text-format';
import { describe, expect, it } from 'vitest';
import { observeStats, prometheusText } from '../src/index.js';
import { telemetry } from './otel-harness.js';
import { statsSources } from './stats-sources.js';

// A pool server's `address` label is its key, which keeps a ws:// URL's query, where a page's
// token goes: metrics are scraped and kept by third parties, so the label shows the key as log
// lines do (no query), and a digest of the query in its place keeps two servers differing only
// in their token apart. The ws:// members are never dialled (the pool's transport is TCP, and
// only the real server is called): their series come from stats() as they are, idle.

const cleanup = cleanups();

const TOKENS = ['s3cret-a', 's3cret-b', 's3cret-c'];
const ws = (port: number, token: string): string => `ws://127.0.0.1:${port}/skein?token=${token}`;
const SHOWN = /^ws:\/\/127\.0\.0\.1:4000\/skein\?…#[0-9a-f]{8}$/;

interface ParsedFamily {
  name: string;
  metrics: { labels?: Record<string, string> }[];
}

/** The `address` labels of `skein_pool_state` for `pool`, as a scraper reads them. */
function scrapedAddresses(text: string, pool: string): string[] {
  const state = (parse(text) as ParsedFamily[]).find((f) => f.name === 'skein_pool_state')!;
  return [...new Set(state.metrics.filter((m) => m.labels?.pool === pool).map((m) => m.labels!.address!))];
}

const observedAddresses = (all: MetricData[], pool: string): string[] => [
  ...new Set(
    ((all.find((m) => m.descriptor.name === 'skein.pool.state') as GaugeMetricData).dataPoints ?? []).filter((p) => p.attributes.pool === pool).map((p) => String(p.attributes.address)),
  ),
];

async function pools() {
  const { transport, address } = await statsSources(cleanup);
  const failover = new FailoverPool({ transport, servers: [address, ws(4000, TOKENS[0]!), ws(4000, TOKENS[1]!)] });
  const direct = new ConnPool({ transport, address: ws(4001, TOKENS[2]!) });
  cleanup.push(() => failover.close(), () => direct.close());
  // The real server answers: its series is a live one, by its plain address.
  await new Promise((resolve, reject) => failover.sendTo(address, 'Fast.ok', new Uint8Array(0), {}, (err, reply) => (err ? reject(err) : resolve(reply))));
  expect(failover.stats()[0]!.state).toBe('ready');
  return { address, failover, direct };
}

describe("a pool server's address label", () => {
  it('prometheusText: no token; the query replaced by a digest, one series per server, stable from scrape to scrape', async () => {
    const { address, failover, direct } = await pools();
    const text = prometheusText({ pools: { spread: failover, direct } });
    for (const token of TOKENS) expect(text).not.toContain(token);
    expect(text).not.toContain('token=');

    const spread = scrapedAddresses(text, 'spread');
    expect(spread).toHaveLength(3);
    expect(spread[0]).toBe(address);
    expect(spread[1]).toMatch(SHOWN);
    expect(spread[2]).toMatch(SHOWN);
    expect(spread[1]).not.toBe(spread[2]);
    expect(scrapedAddresses(text, 'direct')).toEqual([expect.stringMatching(/^ws:\/\/127\.0\.0\.1:4001\/skein\?…#[0-9a-f]{8}$/)]);
    // The same labels at the next scrape: a server's series goes on.
    expect(scrapedAddresses(prometheusText({ pools: { spread: failover } }), 'spread')).toEqual(spread);
  });

  it('observeStats: the same labels as attributes, no token in any', async () => {
    const { failover, direct } = await pools();
    const { meterProvider, collect } = telemetry();
    const observation = observeStats({ pools: { spread: failover, direct }, meter: meterProvider.getMeter('labels') });
    cleanup.push(() => observation.stop());
    const all = await collect();
    const attributes = JSON.stringify(all.flatMap((m) => (m as GaugeMetricData).dataPoints.map((p) => p.attributes)));
    for (const token of TOKENS) expect(attributes).not.toContain(token);
    expect(observedAddresses(all, 'spread')).toEqual(scrapedAddresses(prometheusText({ pools: { spread: failover } }), 'spread'));
  });
});
