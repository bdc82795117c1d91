import { ErrorCode, RpcError } from '@skein/core';
import { cleanups } from '@skein/test-utils';
import { wsTransport } from '@skein/transport-ws';
import { describe, expect, it } from 'vitest';
import { FailoverPool } from '../src/index.js';
import { countingServer, transport as tcp } from './harness.js';

const cleanup = cleanups();

// A member's key is its address without the transport's scheme (`h:1`); its connections dial
// the address as given (`ws://h:1`). The application's `pool.onStateChange` said the dialled
// spelling where `servers()` said the key; and a TCP pool first given `ws://h:1` kept dialling
// it (InvalidArgument) after the server was given again as `h:1`.
describe('a FailoverPool member given with its transport scheme', () => {
  it("is named in pool.onStateChange by its key, as servers() names it", async () => {
    const ws = wsTransport();
    const server = await countingServer(ws, cleanup);
    const told: string[] = [];
    const pool = new FailoverPool({ transport: ws, servers: [`ws://127.0.0.1:${server.port}`], pool: { onStateChange: (_s, _p, address) => void told.push(address) } });
    cleanup.push(() => pool.close());
    await pool.call(1, new Uint8Array(), { timeoutMs: 10_000 });
    expect(told.length).toBeGreaterThan(0);
    expect(new Set(told)).toEqual(new Set(pool.servers().map((s) => s.address)));
  });

  it.each([
    ['add', (pool: FailoverPool, at: string): void => void pool.add(at)],
    ['replace', (pool: FailoverPool, at: string): void => void pool.replace([at])],
  ] as const)('dials the spelling given again by %s, from then on', async (_, giveAgain) => {
    const server = await countingServer(tcp, cleanup);
    const plain = `127.0.0.1:${server.port}`;
    const pool = new FailoverPool({ transport: tcp, servers: [`ws://${plain}`] });
    cleanup.push(() => pool.close());
    const e = await pool.call(1, new Uint8Array(), { timeoutMs: 10_000 }).then(() => 'answered', (err: unknown) => err);
    expect(RpcError.is(e, ErrorCode.InvalidArgument), String(e)).toBe(true);
    giveAgain(pool, plain);
    expect(pool.size).toBe(1);
    await pool.call(1, new Uint8Array(), { timeoutMs: 10_000 });
    expect(server.ran()).toBe(1);
  });
});
