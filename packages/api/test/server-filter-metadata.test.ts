import { msgpackCodec } from '@skein/codec-msgpack';
import { cleanups } from '@skein/test-utils';
import { describe, expect, it } from 'vitest';
import { callInfo, createClient, implement, method, service, type ServerFilter } from '../src/index.js';
import { serve } from './harness.js';

// A server filter's `info.metadata` is typed as always set (ServerCallInfo): so it must be, on a
// real server for a call sent with none (as it already was: a request's metadata was an empty
// record before the type said so; the first test pins that), and from the exported
// `callInfo('server', ...)` too.

const cleanup = cleanups();
const S = service('S', { m: method<void, string>() });

describe("a server filter's info.metadata is always there", () => {
  it('(pins existing behaviour) a call sent with no metadata: the filter reads an empty record, no ?. needed', async () => {
    const seen: unknown[] = [];
    const auth: ServerFilter = { before: (info) => void seen.push(info.metadata, info.metadata.authorization) };
    const server = await serve({ codec: msgpackCodec, filters: [auth], services: [implement(S, { m: () => 'ok' })] });
    cleanup.push(() => server.close());
    const client = createClient(S, server.stream, { codec: msgpackCodec });
    await client.m();
    await client.m(undefined, { metadata: { authorization: 'Bearer t' } });
    expect(seen).toEqual([{}, undefined, { authorization: 'Bearer t' }, 'Bearer t']);
  });

  it("callInfo('server', ...) given no metadata has an empty, frozen record that inherits nothing", () => {
    const info = callInfo('server', 'S', 'm', undefined);
    expect(info.metadata).toEqual({});
    expect(Object.isFrozen(info.metadata)).toBe(true);
    expect(info.metadata.toString).toBeUndefined();
    expect(callInfo('server', 'S', 'm', undefined, { metadata: { a: '1' } }).metadata).toEqual({ a: '1' });
  });
});
