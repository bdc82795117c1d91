import { ErrorCode } from '@skein/core';
import { portOf, rawConnect, waitFor, cleanups } from '@skein/test-utils';
import { describe, expect, it } from 'vitest';
import { RpcServer, type ServerRequest } from '../src/index.js';
import { decodeHello, encodeHello, receiveLimitsEntry, u32Entry, HelloKind, HelloRole } from '../src/wire/hello.js';
import { encodeCallHead } from '../src/wire/call-head.js';
import { HEAD_ACTION } from '../src/wire/extension-frames.js';
import { HELLO_ACTION } from '../src/wire/protocol.js';
import { requestFrame as request, responseFrames as responses, transport } from './harness.js';

const cleanup = cleanups();

/**
 * A handler the server answers Timeout while it runs on counts against its connection from then
 * (`runsOn`), on a connection without a hello too, which makes the extensions' state there
 * before any were agreed. A hello after that still settles them: its answer names them and the
 * connection honours them (a call with a head is run, its metadata read), as on any connection.
 */
describe('a hello after a handler ran on abandoned on a connection without one', () => {
  it('settles the extensions: a call with a head after it is honoured', async () => {
    const running: ServerRequest[] = [];
    const server = new RpcServer({
      dispatch: {
        tellsHandlerEnds: true,
        dispatch(req) {
          if (req.action === 1) return req.reply(new TextEncoder().encode(String(req.metadata.k)));
          // The server's own handler timeout: answered, its handler running on.
          req.runsOn();
          req.fail(ErrorCode.Timeout);
          running.push(req);
        },
      },
      closeWaitMs: 0,
    });
    const a = await server.listen(transport, '127.0.0.1:0');
    cleanup.push(() => server.close());
    const peer = await rawConnect(`127.0.0.1:${portOf(a)}`);
    cleanup.push(() => peer.destroy());
    peer.write(request(2, 1));
    await waitFor(() => responses(peer.received()).some((r) => r.seq === 1), { what: 'the plain call answered Timeout' });
    peer.write(request(HELLO_ACTION, 0, encodeHello(HelloRole.Offer, [receiveLimitsEntry(1 << 20, 1 << 20), u32Entry(HelloKind.Cancel), u32Entry(HelloKind.CallHead)])));
    peer.write(request(HEAD_ACTION, 2, encodeCallHead(5000, { k: 'v' })));
    peer.write(request(1, 2));
    await waitFor(() => responses(peer.received()).some((r) => r.seq === 2), { what: 'the call with a head answered' });
    const hello = responses(peer.received()).find((r) => r.seq === 0)!;
    expect(decodeHello(hello.body, 0, hello.body.length).entries.map((e) => e.kind)).toEqual([HelloKind.ReceiveLimits, HelloKind.Cancel, HelloKind.CallHead]);
    const answer = responses(peer.received()).find((r) => r.seq === 2)!;
    expect({ flag: answer.flag, body: new TextDecoder().decode(answer.body) }).toEqual({ flag: 0, body: 'v' });
    running.splice(0).forEach((req) => req.handlerEnded());
  });
});
