import parse from 'parse-prometheus-text-format';
import { describe, expect, it } from 'vitest';
import { prometheusText } from '../src/index.js';
import { statsSources } from './stats-sources.js';
import { cleanups } from '@skein/test-utils';

const cleanup = cleanups();

interface Sample {
  labels?: Record<string, string>;
  value: string;
}
interface ParsedFamily {
  name: string;
  help: string;
  type: string;
  metrics: Sample[];
}

/** The text read back by a Prometheus text-format parser: what a scraper would see. */
function scrape(text: string): Map<string, ParsedFamily> {
  return new Map((parse(text) as ParsedFamily[]).map((f) => [f.name, f]));
}

function value(families: Map<string, ParsedFamily>, name: string, labels: Record<string, string>): number {
  const f = families.get(name);
  expect(f, name).toBeDefined();
  const hits = f!.metrics.filter((m) => Object.entries(labels).every(([k, v]) => m.labels?.[k] === v));
  expect(hits, `${name} ${JSON.stringify(labels)}`).toHaveLength(1);
  return Number(hits[0]!.value);
}

describe('prometheusText', () => {
  it("renders servers' and pools' stats as a scraper reads them", async () => {
    const { gate, server, address, pool, failover } = await statsSources(cleanup);

    // Settled either way, so that a failed assertion below leaves no rejection unhandled.
    const waiting = [pool.call('Slow.wait'), pool.call('Slow.wait'), failover.call('Slow.wait')].map((c) => c.then(() => 'ok', (e: unknown) => e));
    await pool.call('Fast.ok');
    await failover.call('Fast.ok');
    await expect.poll(() => server.stats().inFlight).toBe(3);
    const text = prometheusText({ servers: { api: server }, pools: { direct: pool, spread: failover } });
    const families = scrape(text);

    expect(value(families, 'skein_server_in_flight', { server: 'api' })).toBe(3);
    expect(value(families, 'skein_server_connections', { server: 'api' })).toBe(server.stats().connections);
    expect(value(families, 'skein_server_accepted_connections_total', { server: 'api' })).toBe(server.stats().accepted);
    expect(value(families, 'skein_server_listeners', { server: 'api' })).toBe(1);
    expect(value(families, 'skein_server_paused_connections', { server: 'api' })).toBe(0);
    expect(value(families, 'skein_server_state', { server: 'api', state: 'running' })).toBe(1);
    expect(value(families, 'skein_server_state', { server: 'api', state: 'closed' })).toBe(0);
    expect(families.get('skein_server_accepted_connections_total')!.type).toBe('COUNTER');
    expect(families.get('skein_server_in_flight')!.type).toBe('GAUGE');

    expect(value(families, 'skein_pool_in_flight', { pool: 'direct', address })).toBe(2);
    expect(value(families, 'skein_pool_state', { pool: 'direct', address, state: 'ready' })).toBe(1);
    expect(value(families, 'skein_pool_in_flight', { pool: 'spread', address })).toBe(1);
    expect(value(families, 'skein_pool_server_healthy', { pool: 'spread', address })).toBe(1);
    expect(value(families, 'skein_pool_server_weight', { pool: 'spread', address })).toBe(1);
    expect(value(families, 'skein_pool_connections', { pool: 'spread', address: '127.0.0.1:1' })).toBe(0);

    gate.resolve();
    expect(await Promise.all(waiting)).toEqual(['ok', 'ok', 'ok']);
    expect(value(scrape(prometheusText({ servers: { api: server } })), 'skein_server_in_flight', { server: 'api' })).toBe(0);
  });

  it('writes each family once, HELP and TYPE before its samples', () => {
    const stats = { state: 'running', listeners: 1, connections: 2, inFlight: 0, paused: 0, accepted: 5, refused: 1, streamsRefused: 3, clients: 2, peers: 0 } as const;
    const text = prometheusText({ servers: { a: { stats: () => stats }, b: { stats: () => stats } } });
    const lines = text.trimEnd().split('\n');
    const helps = lines.filter((l) => l.startsWith('# HELP skein_server_connections '));
    expect(helps).toHaveLength(1);
    const at = lines.indexOf(helps[0]!);
    expect(lines[at + 1]).toBe('# TYPE skein_server_connections gauge');
    expect(lines.slice(at + 2, at + 4)).toEqual(['skein_server_connections{server="a"} 2', 'skein_server_connections{server="b"} 2']);
    expect(value(scrape(text), 'skein_server_refused_connections_total', { server: 'b' })).toBe(1);
    expect(value(scrape(text), 'skein_server_refused_streams_total', { server: 'b' })).toBe(3);
    expect(lines).toContain("# HELP skein_server_refused_streams_total Streams refused unrun (Overloaded) since the server started: their window did not fit their connection's streamBudgetBytes.");
  });

  it('escapes label values', () => {
    const stats = { state: 'closing', listeners: 0, connections: 0, inFlight: 0, paused: 0, accepted: 0, refused: 0, streamsRefused: 0, clients: 0, peers: 0 } as const;
    const name = 'a "quoted"\\name\nwith a line feed';
    const text = prometheusText({ servers: { [name]: { stats: () => stats } } });
    expect(text).toContain('skein_server_listeners{server="a \\"quoted\\"\\\\name\\nwith a line feed"} 0');
    expect(value(scrape(text), 'skein_server_state', { server: name, state: 'closing' })).toBe(1);
  });
});
