import { ErrorCode, RemoteError, RpcError } from '@skein/core';
import { deferred, handleCounts, leakedHandles, ManualClock, sleep, tmpSocketPath, within, cleanups } from '@skein/test-utils';
import net from 'node:net';
import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { ClientStream, type ClientStreamOptions } from '../src/index.js';
import { resolveStreamOptions } from '../src/client/options.js';
import { Concurrency, readU32, recordingTransport, startServer, transport, u32, type Started } from './harness.js';

const cleanup = cleanups<() => Promise<unknown>>();

async function setup(...args: Parameters<typeof startServer>): Promise<Started & { client: ClientStream }> {
  const s = await startServer(...args);
  cleanup.push(() => s.server.close());
  const client = await s.connect(args[1]?.limits ? { limits: args[1].limits } : {});
  cleanup.push(() => client.close());
  return { ...s, client };
}

describe('multiplexing', () => {
  it('matches 10 000 concurrent calls to their replies when the server answers out of order', async () => {
    const { client } = await setup({
      // Answer after a pseudo-random delay so replies overtake each other.
      echo: async (req) => {
        const n = readU32(req.msg);
        if (n % 3 === 0) await sleep(n % 7);
        else if (n % 3 === 1) await new Promise((r) => setImmediate(r));
        return req.msg;
      },
    });
    const results = await Promise.all(Array.from({ length: 10_000 }, (_, i) => client.call('echo', u32(i))));
    results.forEach((r, i) => expect(readU32(r.msg)).toBe(i));
  });

  it('keeps each call\'s seq and name right when calls of short and near-limit names share a turn', async () => {
    // A 1000-byte name makes a request prefix past SMALL_PART: header and name go as two parts.
    const long = `Svc.${'m'.repeat(996)}`;
    const limits = { maxAction: 1000 };
    const { client } = await setup({ short: (req) => req.msg, [long]: (req) => Uint8Array.of(0xee, ...req.msg) }, { limits });
    const calls = Array.from({ length: 300 }, (_, i) => client.call(i % 2 ? long : 'short', u32(i)));
    const replies = await Promise.all(calls);
    replies.forEach((r, i) => expect([...r.msg]).toEqual(i % 2 ? [0xee, ...u32(i)] : [...u32(i)]));
  });

  it('never has more calls in flight than the window, and does fill it', async () => {
    const load = new Concurrency();
    const { server, address } = await startServer({
      work: async () => {
        load.enter();
        await sleep(1);
        load.leave();
      },
    });
    cleanup.push(() => server.close());
    const client = await ClientStream.connect({ transport, address, window: 16 });
    cleanup.push(() => client.close());
    const calls = Array.from({ length: 500 }, () => client.call('work'));
    expect(client.inFlight).toBe(16);
    expect(client.queued).toBe(500 - 16);
    await Promise.all(calls);
    expect(load.total).toBe(500);
    expect(load.max).toBe(16);
  });

  it('keeps calls in order of sending on the wire (seq from 1)', async () => {
    const seen: number[] = [];
    const { client } = await setup({ 5: (req) => void seen.push(readU32(req.msg)) });
    await Promise.all(Array.from({ length: 300 }, (_, i) => client.call(5, u32(i))));
    expect(seen).toEqual(Array.from({ length: 300 }, (_, i) => i));
  });
});

describe('payloads', () => {
  it.each([0, 1, 8 * 1024 * 1024])('round-trips a %i-byte blob byte for byte', async (size) => {
    const { client } = await setup({ blob: (req) => ({ msg: req.msg, blob: req.blob }) });
    const blob = new Uint8Array(randomBytes(size));
    const r = await client.call('blob', u32(size), { blob });
    expect(readU32(r.msg)).toBe(size);
    expect(r.blob.length).toBe(size);
    expect(Buffer.compare(r.blob, blob)).toBe(0);
  });

  it('splits message and blob right at every size around the short-piece limit, either one empty', async () => {
    // Pieces of up to 64 bytes may be copied and longer ones viewed (core's takeBytes): both
    // sides of the split, on both sides of the wire, for string and numeric actions.
    const swap = (req: { msg: Uint8Array; blob: Uint8Array }) => ({ msg: req.blob, blob: req.msg });
    const { client } = await setup({ swap, 9: swap });
    for (const action of ['swap', 9] as const) {
      for (const m of [0, 1, 63, 64, 65, 300]) {
        for (const b of [0, 1, 64, 65]) {
          const msg = new Uint8Array(randomBytes(m));
          const blob = new Uint8Array(randomBytes(b));
          const r = await client.call(action, msg, { blob });
          expect([Buffer.compare(r.msg, blob), Buffer.compare(r.blob, msg)]).toEqual([0, 0]);
        }
      }
    }
  });

  it('carries a message larger than the inline threshold intact', async () => {
    const { client } = await setup({ echo: (req) => req.msg });
    const msg = new Uint8Array(randomBytes(200_000));
    const r = await client.call('echo', msg);
    expect(Buffer.compare(r.msg, msg)).toBe(0);
  });

  it('writes no empty part for a call without a message or blob', async () => {
    const { address } = await setup({ 'Calc.add': (req) => req.msg, 7: (req) => req.msg });
    const rec = recordingTransport();
    const client = await ClientStream.connect({ transport: rec.transport, address, keepaliveMs: 0 });
    cleanup.push(() => client.close());
    await client.call('Calc.add', u32(1)); // header and name in one part, msg
    await client.call(7, new Uint8Array(0)); // header only
    await client.call(7, u32(2), { blob: new Uint8Array(0) }); // header, msg
    expect(rec.writes.slice(1).map((p) => p.length)).toEqual([32 + 'Calc.add'.length, 4, 32, 32, 4]); // after the hello
  });
});

describe('errors from handlers', () => {
  it('delivers built-in errors, custom numbers and custom strings as such', async () => {
    const { client } = await setup({
      builtin: () => {
        throw new RpcError(ErrorCode.Overloaded);
      },
      num: () => {
        throw new RemoteError(7);
      },
      detailed: () => {
        throw new RpcError(ErrorCode.InvalidArgument, 'why not');
      },
      str: () => {
        throw new RemoteError(new TextEncoder().encode('rpc_timeout'));
      },
      boom: () => {
        throw new Error('secret');
      },
    });
    await expect(client.call('builtin')).rejects.toMatchObject({ code: ErrorCode.Overloaded });
    // Skein's own codes carry their message across the wire.
    await expect(client.call('detailed')).rejects.toMatchObject({ code: ErrorCode.InvalidArgument, message: 'why not' });
    await expect(client.call('num')).rejects.toMatchObject({ payload: 7 });
    const s = await client.call('str').catch((e) => e);
    expect(s).toBeInstanceOf(RemoteError);
    expect(new TextDecoder().decode(s.payload)).toBe('rpc_timeout');
    const boom = await client.call('boom').catch((e) => e);
    expect(boom).toMatchObject({ code: ErrorCode.Internal });
    expect(boom.message).not.toMatch(/secret/);
  });

  it('answers an unknown numeric action with Method, not Decode', async () => {
    const { client } = await setup({ 1: () => undefined });
    await expect(client.call(2)).rejects.toMatchObject({ code: ErrorCode.Method });
    await expect(client.call('nope')).rejects.toMatchObject({ code: ErrorCode.Method });
  });

  it('does not let a slow handler hold back later requests on the same connection', async () => {
    const gate = deferred();
    const { client } = await setup({ slow: () => gate.promise, fast: () => undefined });
    const slow = client.call('slow');
    await client.call('fast');
    await client.call('fast');
    gate.resolve();
    await slow;
  });
});

describe('bad arguments are refused before the wire', () => {
  it('rejects bad actions and oversized payloads and sends nothing', async () => {
    let handled = 0;
    const { client } = await setup({ 1: () => void handled++ }, { limits: { maxMessage: 64, maxAction: 8 } });
    await expect(client.call(0)).rejects.toMatchObject({ code: ErrorCode.InvalidArgument });
    await expect(client.call(-3)).rejects.toMatchObject({ code: ErrorCode.InvalidArgument });
    await expect(client.call(1.5)).rejects.toMatchObject({ code: ErrorCode.InvalidArgument });
    // The protocol's own actions (the hello and the extension frames) are not a caller's to send.
    await expect(client.call(0x7fff_ff00)).rejects.toMatchObject({ code: ErrorCode.InvalidArgument, message: /reserved/ });
    await expect(client.call(0x7fff_ff05)).rejects.toMatchObject({ code: ErrorCode.InvalidArgument });
    await expect(client.call('')).rejects.toMatchObject({ code: ErrorCode.InvalidArgument });
    await expect(client.call('much-too-long')).rejects.toMatchObject({ code: ErrorCode.FrameTooLarge });
    await expect(client.call(1, new Uint8Array(65))).rejects.toMatchObject({ code: ErrorCode.FrameTooLarge });
    await expect(client.call(1, 'text' as never)).rejects.toMatchObject({ code: ErrorCode.InvalidArgument });
    await client.call(1);
    expect(handled).toBe(1);
  });

  it('rejects a bad stream option before connecting, leaving no connection open', async () => {
    const s = await startServer({});
    cleanup.push(() => s.server.close());
    const before = handleCounts();
    await expect(s.connect({ window: 0 })).rejects.toMatchObject({ code: ErrorCode.InvalidArgument, message: /window/ });
    await expect(s.connect({ tickMs: NaN })).rejects.toMatchObject({ code: ErrorCode.InvalidArgument, message: /tickMs/ });
    const bad: [Partial<ClientStreamOptions>, RegExp][] = [
      [{ window: 1.5 }, /^window must be a positive integer, got 1.5$/],
      [{ maxQueued: 0 }, /^maxQueued must be a positive integer, got 0$/],
      [{ maxQueued: 2.5 }, /^maxQueued must be a positive integer/],
      [{ timeoutMs: 0 }, /^timeoutMs must be a positive number, got 0$/],
      [{ timeoutMs: Infinity }, /^timeoutMs must be a positive number/],
      [{ tickMs: 0.5 }, /^tickMs must be a number of ms in 1\.\.2147483647, got 0.5$/],
      [{ tickMs: 2 ** 31 }, /^tickMs must be a number of ms in 1\.\.2147483647/], // a timer would fire at once
      [{ keepaliveMs: -1 }, /^keepaliveMs must be 0 or a positive number, got -1$/],
      [{ keepaliveMs: NaN }, /^keepaliveMs must be 0 or a positive number/],
      [{ keepaliveTimeoutMs: 0 }, /^keepaliveTimeoutMs must be a positive number, got 0$/],
      [{ keepaliveTimeoutMs: '5000' as never }, /^keepaliveTimeoutMs must be a positive number/],
      [{ connectTimeoutMs: -1 }, /^connectTimeoutMs must be a positive number, got -1$/],
      [{ onClose: 'log' as never }, /^onClose must be a function$/],
      [{ streamWindowBytes: 2 ** 32 }, /^streamWindowBytes must be an integer in 1\.\.4294967295, got 4294967296$/],
      [{ streamWindow: 65_536 } as never, /^ClientStream option streamWindow is now streamWindowBytes$/], // renamed: it counts bytes
    ];
    for (const [opts, message] of bad) {
      await expect(s.connect(opts), JSON.stringify(opts)).rejects.toMatchObject({ code: ErrorCode.InvalidArgument, message });
    }
    await sleep(100); // time for a connection, had one been made, to reach the server
    expect(s.server.connections).toBe(0);
    expect(leakedHandles(before)).toEqual({});
  });

  it('takes keepaliveMs 0 (keepalive off) and names a pool\'s stream options with their prefix', () => {
    expect(resolveStreamOptions({ keepaliveMs: 0 })).toMatchObject({ keepaliveMs: 0, tickMs: 1000, timeoutMs: 20_000 });
    expect(() => resolveStreamOptions({ keepaliveMs: -1 }, 'stream.')).toThrow(/^stream\.keepaliveMs must be 0 or a positive number/);
  });
});

describe('closing', () => {
  it('drops the connection when the peer has not closed its side keepaliveTimeoutMs after ours, keepalive off: close() settles', async () => {
    // A peer that reads on and never closes (a hung process, a half-open socket): close() used
    // to wait for its close for good once keepalive was off (nothing else ended the wait).
    const held: net.Socket[] = [];
    const silent = net.createServer({ allowHalfOpen: true }, (c) => void held.push(c.resume().on('error', () => {})));
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    cleanup.push(async () => {
      for (const c of held) c.destroy();
      await new Promise((resolve) => silent.close(resolve));
    });
    const clock = new ManualClock();
    const client = await ClientStream.connect({ transport, address: `127.0.0.1:${(silent.address() as net.AddressInfo).port}`, clock, keepaliveMs: 0, keepaliveTimeoutMs: 300 });
    const closed = client.close();
    await sleep(20); // our FIN goes out; the peer answers nothing
    clock.advance(299);
    expect(client.state).toBe('closing');
    clock.advance(1000);
    // The bound is the test's own, not what is asserted: the close settles, and the stream is closed.
    await within(closed, 5000, 'close()');
    expect(client.state).toBe('closed');
  });
});

describe('Unix sockets', () => {
  it('serves calls over a Unix socket', async () => {
    const s = await startServer({ echo: (req) => req.msg }, {}, `unix:${tmpSocketPath()}`);
    cleanup.push(() => s.server.close());
    const client = await s.connect();
    cleanup.push(() => client.close());
    expect(client.remote).toMatch(/^unix:/);
    const r = await client.call('echo', u32(42));
    expect(readU32(r.msg)).toBe(42);
  });

  it('serves TCP and Unix listeners from one server', async () => {
    const s = await startServer({ echo: (req) => req.msg });
    cleanup.push(() => s.server.close());
    const path = tmpSocketPath();
    await s.server.listen(transport, `unix:${path}`);
    const a = await s.connect();
    const b = await ClientStream.connect({ transport, address: `unix:${path}` });
    cleanup.push(() => a.close(), () => b.close());
    expect(readU32((await a.call('echo', u32(1))).msg)).toBe(1);
    expect(readU32((await b.call('echo', u32(2))).msg)).toBe(2);
    expect(s.server.connections).toBe(2);
  });
});
