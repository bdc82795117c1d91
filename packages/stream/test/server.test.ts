import { ErrorCode, RemoteError, RpcError } from '@skein/core';
import { deferred, fromHex, handleCounts, leakedHandles, ManualClock, portOf, waitFor, within, cleanups } from '@skein/test-utils';
import net from 'node:net';
import { describe, expect, it, vi } from 'vitest';
import { ClientStream, RpcServer, ServerRequest, createRouter } from '../src/index.js';
import { errorStringFrame, golden } from './golden.js';
import { Concurrency, memoryLogger, rawPeer, readU32, recordingTransport, startServer, transport, u32 } from './harness.js';

const cleanup = cleanups();

describe('on the wire', () => {
  it('answers a ping with the golden pong and keeps the connection', async () => {
    const s = await startServer({});
    cleanup.push(() => s.server.close());
    const peer = rawPeer(s.address, cleanup);
    peer.send(golden.ping);
    await waitFor(() => peer.received().length >= 20);
    expect(new Uint8Array(peer.received())).toEqual(golden.pong);
  });

  it('answers a golden string-action request with the handler reply', async () => {
    const s = await startServer({ 'Calculator.add': (req) => ({ msg: fromHex('03'), blob: req.blob.subarray(1) }) });
    cleanup.push(() => s.server.close());
    const peer = rawPeer(s.address, cleanup);
    peer.send(golden.stringActionRequest);
    await waitFor(() => peer.received().length >= 22);
    // msg 03, blob "bb" (the request's blob minus its first byte)
    expect(peer.received().toString('hex')).toBe('254d0100' + '01000000' + '0100000000000000' + '01000000' + '03bb');
  });

  it('echoes any u64 seq verbatim and hands a numeric action its whole body as msg', async () => {
    const seen: Uint8Array[] = [];
    const s = await startServer({ 7: (req) => (seen.push(req.msg, req.blob), req.msg) });
    cleanup.push(() => s.server.close());
    const peer = rawPeer(s.address, cleanup);
    // seq 0xfedcba9876543210, past 2^53: a number could not carry it exactly.
    peer.send(fromHex(`254d 01 00 07000000 1032547698badcfe 0000000000000000 02000000 00000000 0908`));
    await waitFor(() => peer.received().length >= 22);
    expect(peer.received().toString('hex')).toBe('254d0100' + '02000000' + '1032547698badcfe' + '00000000' + '0908');
    expect(seen.map((b) => [...b])).toEqual([[9, 8], []]);
  });

  it('echoes a seq past 2^53 verbatim in every kind of error reply, without making seq bytes per request', async () => {
    const seqBytes = vi.spyOn(ServerRequest.prototype, 'seqBytes', 'get');
    cleanup.push(() => seqBytes.mockRestore());
    const s = await startServer({
      7: () => {
        throw new RpcError(ErrorCode.Timeout, 'slow');
      },
      8: () => {
        throw new RemoteError(5);
      },
      9: () => {
        throw new RemoteError(fromHex('ab'));
      },
    });
    cleanup.push(() => s.server.close());
    const peer = rawPeer(s.address, cleanup);
    const seq = '1032547698badcfe'; // 0xfedcba9876543210
    const request = (action: string) => fromHex(`254d 01 00 ${action} ${seq} 0000000000000000 00000000 00000000`);
    for (const action of ['07000000', '08000000', '09000000', '06000000']) peer.send(request(action));
    const expected = [
      `254d0102 00000000 ${seq} 0b000000 ${Buffer.from('rpc_timeout').toString('hex')}`,
      `254d0101 05000000 ${seq} 00000000`,
      `254d0102 00000000 ${seq} 01000000 ab`,
      `254d0102 00000000 ${seq} 13000000 ${Buffer.from('rpc_method_notfound').toString('hex')}`,
    ].map((h) => h.replace(/\s+/g, ''));
    await waitFor(() => peer.received().length >= expected.join('').length / 2);
    expect(peer.received().toString('hex')).toBe(expected.join(''));
    // A string action that is not UTF-8: a Decode reply to the same seq, then the close.
    const bad = rawPeer(s.address, cleanup);
    bad.send(fromHex(`254d 01 00 02000080 ${seq} 0000000000000000 00000000 00000000 c328`));
    const got = (await within(bad.closed, 5000, 'the close after bad UTF-8')).toString('hex');
    expect(got).toBe(`254d010200000000${seq}0a000000${Buffer.from('rpc_decode').toString('hex')}`);
    expect(seqBytes).not.toHaveBeenCalled();
  });

  it('refuses a request that races the close with Closed, echoing its seq verbatim', async () => {
    const gate = deferred();
    const s = await startServer({ hold: async () => void (await gate.promise) }, { closeWaitMs: 5000 });
    const peer = rawPeer(s.address, cleanup);
    peer.send(fromHex(`254d 01 00 04000080 1032547698badcfe 0000000000000000 00000000 00000000 686f6c64`)); // "hold"
    await waitFor(() => s.server.connections === 1);
    await new Promise((r) => setTimeout(r, 20));
    const closing = s.server.close();
    // Listeners closed (new connections refused), then the connection drains.
    await expect(ClientStream.connect({ transport, address: s.address })).rejects.toMatchObject({ code: ErrorCode.Unreachable });
    await new Promise((r) => setTimeout(r, 20));
    peer.send(fromHex(`254d 01 00 07000000 efcdab8967452301 0000000000000000 00000000 00000000`));
    await waitFor(() => peer.received().length >= 20 + 10);
    expect(peer.received().toString('hex')).toBe(`254d010200000000efcdab89674523010a000000${Buffer.from('rpc_closed').toString('hex')}`);
    gate.resolve();
    await within(closing, 5000, 'server close');
  });

  it('sends requests exactly as the golden vectors say, after the hello', async () => {
    const expected = new Uint8Array([...golden.helloRequestFull, ...golden.stringActionRequest, ...golden.numericActionRequest]);
    const got = deferred<Buffer>();
    const srv = net.createServer((sock) => {
      const chunks: Buffer[] = [];
      sock.on('data', (c) => {
        chunks.push(c);
        const all = Buffer.concat(chunks);
        if (all.length >= expected.length) got.resolve(all);
      });
    });
    await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
    cleanup.push(() => new Promise((r) => srv.close(r)));
    const client = await ClientStream.connect({ transport, address: `127.0.0.1:${(srv.address() as net.AddressInfo).port}` });
    cleanup.push(() => client.destroy());
    void client.call('Calculator.add', fromHex('010203'), { blob: fromHex('aabb') }).catch(() => {});
    void client.call(7, fromHex('0908')).catch(() => {});
    const bytes = await within(got.promise, 5000);
    expect(new Uint8Array(bytes)).toEqual(expected);
  });

  it('writes no empty part for an answer without a message or blob', async () => {
    const rec = recordingTransport();
    const server = new RpcServer({ dispatch: createRouter({ 2: () => u32(5) }) });
    cleanup.push(() => server.close());
    const a = await server.listen(rec.transport, '127.0.0.1:0');
    const address = `${a.host}:${portOf(a)}`;
    const peer = rawPeer(address, cleanup);
    peer.send(golden.ping);
    await waitFor(() => peer.received().length >= 20);
    expect(rec.writes).toEqual([golden.pong]); // the pong: a header alone
    const client = await ClientStream.connect({ transport, address, keepaliveMs: 0 });
    cleanup.push(() => client.close());
    await client.call(2);
    // The hello's answer (header, msg), then the call's (header, msg).
    expect(rec.writes.map((p) => p.length)).toEqual([golden.pong.length, 20, golden.helloAnswerFull.length - 20, 20, 4]);
  });
});

describe('malformed frames close only their own connection', () => {
  const bad = (mut: (b: Buffer) => void) => {
    const b = Buffer.from(golden.numericActionRequest);
    mut(b);
    return new Uint8Array(b);
  };
  const nonUtf8 = (() => {
    const b = Buffer.from(golden.stringActionRequest);
    b[32] = 0xff; // not valid UTF-8
    return new Uint8Array(b);
  })();

  it.each([
    ['bad magic', bad((b) => b.writeUInt16LE(0xbeef, 0)), '', /bad magic/],
    ['bad version', bad((b) => (b[2] = 9)), errorStringFrame(2, 'rpc_invalid_ver'), /version/],
    ['oversized message', bad((b) => b.writeUInt32LE(0xfffffff0, 24)), errorStringFrame(2, "rpc_frame_too_large:message of 4294967280 bytes exceeds the server's limit of 16777216"), /exceeds/],
    ['oversized blob', bad((b) => b.writeUInt32LE(0x7fffffff, 28)), errorStringFrame(2, "rpc_frame_too_large:blob of 2147483647 bytes exceeds the server's limit of 67108864"), /exceeds/],
    ['oversized action', bad((b) => b.writeUInt32LE(0x80000000 + 5000, 4)), errorStringFrame(2, "rpc_frame_too_large:action of 5000 bytes exceeds the server's limit of 1024"), /exceeds/],
    ['non-UTF-8 action', nonUtf8, errorStringFrame(1, 'rpc_decode'), /UTF-8/],
  ] as const)('%s', async (_name, frame, reply, reason) => {
    const logger = memoryLogger();
    const s = await startServer({ 7: (r) => r.msg, echo: (r) => r.msg }, { logger });
    cleanup.push(() => s.server.close());
    const good = await s.connect();
    cleanup.push(() => good.close());
    const peer = rawPeer(s.address, cleanup);
    peer.send(frame);
    const got = await within(peer.closed, 5000, 'server closing the bad connection');
    expect(got.toString('hex')).toBe(Buffer.from(reply).toString('hex'));
    const line = await waitFor(() => logger.lines.find((l) => l.level === 'warn' && /malformed/.test(l.msg ?? '')), {
      what: 'a log line saying why',
    });
    expect(line.obj).toMatchObject({ reason: expect.stringMatching(reason) });
    // The other connection is untouched.
    expect(readU32((await good.call('echo', u32(11))).msg)).toBe(11);
    expect(s.server.connections).toBe(1);
  });
});

describe('backpressure', () => {
  it('stops reading a connection that has maxInFlightPerConn requests being handled', async () => {
    const load = new Concurrency();
    const gates: (() => void)[] = [];
    const s = await startServer(
      {
        work: () => {
          load.enter();
          return new Promise<void>((resolve) => gates.push(() => (load.leave(), resolve())));
        },
      },
      { maxInFlightPerConn: 8 },
    );
    cleanup.push(() => s.server.close());
    const client = await s.connect({ window: 1000 });
    cleanup.push(() => client.destroy());
    const calls = Array.from({ length: 1000 }, () => client.call('work'));
    await waitFor(() => load.now === 8);
    // Give the server every chance to read more: it must not.
    await new Promise((r) => setTimeout(r, 100));
    expect(load.now).toBe(8);
    while (load.total < 1000 || load.now > 0) {
      await waitFor(() => gates.length > 0, { what: 'a request to release' });
      gates.splice(0).forEach((g) => g());
      expect(load.max).toBeLessThanOrEqual(8);
    }
    await Promise.all(calls);
    expect(load.max).toBe(8);
  });
});

describe('idle connections and closing', () => {
  it('closes a connection that sends no frame within the idle timeout', async () => {
    const s = await startServer({}, { idleTimeoutMs: 200, tickMs: 50 });
    cleanup.push(() => s.server.close());
    const peer = rawPeer(s.address, cleanup);
    await within(peer.closed, 5000, 'idle close');
    await waitFor(() => s.server.connections === 0, { what: 'the server to forget the connection' });
  });

  it('keeps a connection that makes a call every tick, and closes it once idleTimeoutMs passes without one', async () => {
    const clock = new ManualClock();
    const s = await startServer({ 7: (r) => r.msg }, { idleTimeoutMs: 3000, tickMs: 1000, clock });
    cleanup.push(() => s.server.close());
    const peer = rawPeer(s.address, cleanup);
    await waitFor(() => s.server.connections === 1);
    const replyLength = 20 + 2;
    for (let t = 0; t < 10; t++) {
      peer.send(golden.numericActionRequest);
      await waitFor(() => peer.received().length >= replyLength * (t + 1), { what: 'a reply' });
      clock.advance(1000);
    }
    await new Promise((r) => setTimeout(r, 20));
    expect(s.server.connections).toBe(1); // ten ticks, well past the idle timeout, but busy
    // Silent from here: the tick that saw the last frame stamped the time, then three quiet seconds.
    clock.advance(2000);
    await new Promise((r) => setTimeout(r, 20));
    expect(s.server.connections).toBe(1);
    clock.advance(1000);
    await within(peer.closed, 5000, 'idle close');
    await waitFor(() => s.server.connections === 0, { what: 'the server to forget the connection' });
  });

  it('closes gracefully: stops accepting, finishes in-flight calls, leaves no handles', async () => {
    const before = handleCounts();
    const gate = deferred();
    const s = await startServer({ wait: async (r) => (await gate.promise, r.msg) });
    const client = await s.connect();
    const inflight = [1, 2, 3].map((i) => client.call('wait', u32(i)));
    await waitFor(() => s.server.connections === 1);
    await new Promise((r) => setTimeout(r, 20));
    const closing = s.server.close();
    await expect(ClientStream.connect({ transport, address: s.address })).rejects.toMatchObject({ code: ErrorCode.Unreachable });
    gate.resolve();
    expect((await Promise.all(inflight)).map((r) => readU32(r.msg))).toEqual([1, 2, 3]);
    await within(closing, 5000, 'server close');
    await client.closed();
    expect(s.server.state).toBe('closed');
    await waitFor(() => Object.keys(leakedHandles(before)).length === 0, { what: 'handles to go', timeoutMs: 2000 }).catch(() => {});
    expect(leakedHandles(before)).toEqual({});
  });

  it('sends the last in-flight answer before ending the connection on close', async () => {
    const gate = deferred();
    const s = await startServer({ wait: async (r) => (await gate.promise, r.msg) });
    const client = await s.connect();
    const only = client.call('wait', u32(9));
    await waitFor(() => s.server.connections === 1);
    await new Promise((r) => setTimeout(r, 20));
    const closing = s.server.close();
    gate.resolve();
    expect(readU32((await only).msg)).toBe(9);
    await within(closing, 5000, 'server close');
  });

  it('cuts connections that outlive closeWaitMs', async () => {
    const s = await startServer({ hang: () => new Promise(() => {}) }, { closeWaitMs: 100 });
    const client = await s.connect();
    const hung = client.call('hang').catch((e) => e);
    await waitFor(() => s.server.connections === 1);
    await new Promise((r) => setTimeout(r, 20));
    await within(s.server.close(), 5000, 'server close');
    expect((await hung).code).toBe(ErrorCode.IO);
  });
});
