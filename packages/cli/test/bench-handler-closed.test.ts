import { createServiceDispatch, implement, method, service } from '@skein/api';
import { msgpackCodec } from '@skein/codec-msgpack';
import { ErrorCode, RpcError } from '@skein/core';
import { nodeRuntime } from '@skein/runtime-node';
import { RpcServer } from '@skein/stream';
import { portOf } from '@skein/test-utils';
import { tcpTransport } from '@skein/transport-tcp';
import { afterAll, describe, expect, it } from 'vitest';
import { skeinWithin } from './skein-bin.js';

// bench ends its run at a draining server's Closed (bench-server-draining.test.ts): the bare one
// a server sends for a call it did not start. A method's own Closed (its database closed, a
// downstream's passed on) carries words and says nothing of the server: it is an error the run
// counts, not the end of the run and not "the server is closing".

const Echo = service('Echo', { one: method<void, number>() });

let server: RpcServer | undefined;
afterAll(() => server?.close());

describe("skein bench and a method's own Closed", () => {
  it('counts it and runs on: the server is not closing', async () => {
    let handled = 0;
    const impl = implement(Echo, {
      one: () => {
        if (++handled % 2 === 0) throw new RpcError(ErrorCode.Closed, 'the database is closed');
        return 1;
      },
    });
    server = new RpcServer({ dispatch: createServiceDispatch({ codec: msgpackCodec, services: [impl] }) });
    const bound = await server.listen(tcpTransport(nodeRuntime), '127.0.0.1:0');
    const addr = `127.0.0.1:${portOf(bound)}`;
    const r = await skeinWithin(60_000, 'bench', addr, 'Echo.one', '--in-flight', '2', '--duration', '1', '--json');
    expect(r.stderr).not.toMatch(/is closing/);
    const s = JSON.parse(r.stdout);
    expect(s.errors.Closed).toBeGreaterThan(10);
    expect(server.state).toBe('running');
  }, 90_000);
});
