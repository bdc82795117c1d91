import { createServiceDispatch, implement, method, service } from '@skein/api';
import { msgpackCodec } from '@skein/codec-msgpack';
import { nodeRuntime } from '@skein/runtime-node';
import { RpcServer } from '@skein/stream';
import { portOf } from '@skein/test-utils';
import { tcpTransport } from '@skein/transport-tcp';
import { afterAll, describe, expect, it } from 'vitest';
import { skeinWithin } from './skein-bin.js';

// An operator runs `skein bench` against a server that is then closed gracefully (SIGTERM in a
// rolling restart). A draining server answers every new call with a bare Closed and keeps the
// connection open while calls keep coming. Before the fix, bench went on calling for the whole
// --duration: hundreds of thousands of Closed refusals, exit 0, and the server's close() held
// open all that time. It must end the run at the first refusal, say the server is closing, and
// exit 1, letting the server finish its close.

const Echo = service('Echo', { one: method<void, number>() });
const IN_FLIGHT = 2;

let server: RpcServer | undefined;
afterAll(() => server?.close());

describe('skein bench when the server closes gracefully mid-run', () => {
  it('ends the run at the first Closed, says the server is closing, exits 1, and lets the close finish', async () => {
    let handled = 0;
    let closed: Promise<void> | undefined;
    const impl = implement(Echo, {
      one: () => {
        if (++handled === 50) closed = server!.close();
        return 1;
      },
    });
    server = new RpcServer({ dispatch: createServiceDispatch({ codec: msgpackCodec, services: [impl] }) });
    const bound = await server.listen(tcpTransport(nodeRuntime), '127.0.0.1:0');
    const addr = `127.0.0.1:${portOf(bound)}`;
    const r = await skeinWithin(60_000, 'bench', addr, 'Echo.one', '--in-flight', String(IN_FLIGHT), '--duration', '600', '--json');
    expect(r.stderr).toMatch(/^error: 127\.0\.0\.1:\d+ is closing \(it refused new calls: draining\): Closed /);
    expect(r.code).toBe(1);
    const s = JSON.parse(r.stdout);
    // Only the calls out when it began draining were refused, not one per turn of a loop.
    expect(s.errors.Closed).toBeGreaterThan(0);
    expect(s.errors.Closed).toBeLessThanOrEqual(IN_FLIGHT);
    expect(s.calls).toBeGreaterThanOrEqual(49);
    await closed;
    expect(server.state).toBe('closed');
  }, 90_000);
});
