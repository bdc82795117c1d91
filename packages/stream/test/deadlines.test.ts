import { ErrorCode, type RpcError } from '@skein/core';
import { ManualClock, deferred, fromHex, rawConnect, waitFor, cleanups } from '@skein/test-utils';
import { describe, expect, it } from 'vitest';
import type { ServerRequest } from '../src/index.js';
import { readErrorBytes } from '../src/wire/error-strings.js';
import { golden } from './golden.js';
import { startServer, u32 } from './harness.js';

const cleanup = cleanups();

const text = new TextEncoder();

describe('deadlines', () => {
  it('a call whose deadline passed before it arrived is answered Timeout and never dispatched', async () => {
    let ran = 0;
    const s = await startServer({ 7: () => (ran++, u32(1)) });
    cleanup.push(() => s.server.close());
    const raw = await rawConnect(s.address);
    cleanup.push(() => raw.destroy());
    // The hello, then a head with 0 ms left for seq 5, then call 7 as seq 5, then call 7 as seq 6 (no head).
    const head = fromHex(`254d 01 00 02ffff7f 0500000000000000 0000000000000000 04000000 00000000 00000000`);
    const call = (seq: string) => fromHex(`254d 01 00 07000000 ${seq}00000000000000 0000000000000000 00000000 00000000`);
    raw.write(new Uint8Array([...golden.helloRequestFull, ...head, ...call('05'), ...call('06')]));
    const answers = golden.helloAnswerFull.length;
    await waitFor(() => raw.received().length > answers + 20 + 20, { what: 'two answers' });
    const got = raw.received().subarray(answers);
    // First the refusal of seq 5 (an error string), then seq 6's ok answer.
    expect(got[3]).toBe(2);
    expect(got.readUInt32LE(8)).toBe(5);
    const err = readErrorBytes(new Uint8Array(got.subarray(20, 20 + got.readInt32LE(16)))) as RpcError;
    expect(err.code).toBe(ErrorCode.Timeout);
    await waitFor(() => ran === 1, { what: 'seq 6 to run' });
    expect(ran).toBe(1);
  });

  it('the server knows the deadline, aborts the handler at it and answers Timeout though the handler ignores it', async () => {
    const clock = new ManualClock();
    const seen = deferred<ServerRequest>();
    const s = await startServer({ 7: (req) => (seen.resolve(req), new Promise(() => {})), 8: () => u32(8) }, { clock, closeWaitMs: 0, maxInFlightPerConn: 1 });
    cleanup.push(() => s.server.close());
    const client = await s.connect();
    cleanup.push(() => client.destroy());
    await client.ping();
    const call = client.call(7, undefined, { timeoutMs: 60_000 }).catch((e: RpcError) => e);
    const req = await seen.promise;
    expect(req.deadline).toBe(clock.time + 60_000);
    expect(req.signal.aborted).toBe(false);
    clock.advance(59_990);
    expect(req.signal.aborted).toBe(false);
    clock.advance(20);
    expect(req.signal.aborted).toBe(true);
    expect((req.signal.reason as RpcError).code).toBe(ErrorCode.Timeout);
    const err = (await call) as RpcError;
    expect(err.code).toBe(ErrorCode.Timeout);
    expect(err.message).toMatch(/deadline passed/);
    // Its slot is free (one a connection here): the next call is read and answered.
    expect((await client.call(8)).msg).toEqual(u32(8));
  });

  it('a call without a timeout of its own sends no deadline', async () => {
    const seen = deferred<ServerRequest>();
    const s = await startServer({ 7: (req) => (seen.resolve(req), u32(1)) });
    cleanup.push(() => s.server.close());
    const client = await s.connect();
    cleanup.push(() => client.close());
    await client.call(7);
    expect((await seen.promise).deadline).toBeUndefined();
  });
});

describe('metadata', () => {
  it('reaches the handler as sent, odd keys and all', async () => {
    const s = await startServer({ 7: (req) => text.encode(JSON.stringify(req.metadata)) });
    cleanup.push(() => s.server.close());
    const client = await s.connect();
    cleanup.push(() => client.close());
    // A leading U+FEFF is a character like any other: a default TextDecoder would drop it.
    const metadata = { authorization: 'Bearer t', traceparent: '00-abc-def-01', 'ключ': 'значение ✓', __proto__x: '', constructor: 'c', '\uFEFFbom': '\uFEFFvalue' };
    // The first call goes before the hello's answer: it waits for it, metadata and all.
    const reply = await client.call(7, undefined, { metadata });
    expect(JSON.parse(new TextDecoder().decode(reply.msg))).toEqual(metadata);
    const plain = await client.call(7);
    expect(new TextDecoder().decode(plain.msg)).toBe('{}');
  });

  it('one connection: each call reads its own head, where the last head had strings of the same lengths at the same places', async () => {
    const s = await startServer({ 7: (req) => text.encode(JSON.stringify(Object.entries(req.metadata))) });
    cleanup.push(() => s.server.close());
    const client = await s.connect();
    cleanup.push(() => client.close());
    const heads: Record<string, string>[] = [
      { authorization: 'Bearer aaaa', traceparent: '00-0001-01' },
      { authorization: 'Bearer aaab', traceparent: '00-0002-01' },
      { authorizatioN: 'Bearer aaab', traceparent: '00-0002-01' },
      { traceparent: '00-0002-01', authorization: 'Bearer aaab' },
      { authorization: 'Bearer ääb', traceparent: '00-0003-01' },
      { authorization: 'Bearer aaab' },
    ];
    const readBack = async (metadata: Record<string, string>) => JSON.parse(new TextDecoder().decode((await client.call(7, undefined, { metadata })).msg));
    for (let round = 0; round < 2; round++) for (const metadata of heads) expect(await readBack(metadata)).toEqual(Object.entries(metadata));
    // Many at once: each head is read before its request, whatever the order the answers come in.
    const all = Array.from({ length: 60 }, (_, i) => heads[i % heads.length]!);
    expect(await Promise.all(all.map(readBack))).toEqual(all.map((m) => Object.entries(m)));
  });

  it('is bounded: over the server\'s 8 KiB the call fails FrameTooLarge before anything is sent; bad entries InvalidArgument', async () => {
    let ran = 0;
    const s = await startServer({ 7: () => (ran++, u32(1)) });
    cleanup.push(() => s.server.close());
    const client = await s.connect();
    cleanup.push(() => client.close());
    await client.ping();
    const big = await client.call(7, undefined, { metadata: { k: 'x'.repeat(9000) } }).catch((e: RpcError) => e);
    expect((big as RpcError).code).toBe(ErrorCode.FrameTooLarge);
    const empty = await client.call(7, undefined, { metadata: { '': 'v' } }).catch((e: RpcError) => e);
    expect((empty as RpcError).code).toBe(ErrorCode.InvalidArgument);
    const notString = await client.call(7, undefined, { metadata: { k: 1 as unknown as string } }).catch((e: RpcError) => e);
    expect((notString as RpcError).code).toBe(ErrorCode.InvalidArgument);
    // Entries far over their bounds (a key of 181M characters, a value of 536M): refused as well, unsent.
    const huge = await Promise.resolve()
      .then(() => client.call(7, undefined, { metadata: { ['k'.repeat(181_000_000)]: 'v'.repeat(536_000_000) } }))
      .catch((e: RpcError) => e);
    expect((huge as RpcError).code).toBe(ErrorCode.InvalidArgument);
    expect(ran).toBe(0);
  });

  it('a head the server cannot read fails its call alone (Decode); the connection goes on', async () => {
    let ran = 0;
    const s = await startServer({ 7: () => (ran++, u32(1)) });
    cleanup.push(() => s.server.close());
    const raw = await rawConnect(s.address);
    cleanup.push(() => raw.destroy());
    // A head whose entry runs past its end, for seq 5; call 7 as seq 5; call 7 as seq 6.
    const head = fromHex(`254d 01 00 02ffff7f 0500000000000000 0000000000000000 07000000 00000000 ffffffff 05 6b6b`);
    const call = (seq: string) => fromHex(`254d 01 00 07000000 ${seq}00000000000000 0000000000000000 00000000 00000000`);
    raw.write(new Uint8Array([...golden.helloRequestFull, ...head, ...call('05'), ...call('06')]));
    await waitFor(() => ran === 1 && raw.received().length > golden.helloAnswerFull.length + 20 + 20, { what: 'both answers' });
    const got = raw.received().subarray(golden.helloAnswerFull.length);
    expect(got.readUInt32LE(8)).toBe(5);
    const err = readErrorBytes(new Uint8Array(got.subarray(20, 20 + got.readInt32LE(16)))) as RpcError;
    expect(err.code).toBe(ErrorCode.Decode);
  });
});
