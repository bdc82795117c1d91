import { FrameError, type FrameConn, type FrameSpec, type Transport } from '@skein/core';
import { cleanups, detachedBodyLength, memoryLogger, specHandling, waitFor } from '@skein/test-utils';
import { describe, expect, it } from 'vitest';
import { ClientStream, RpcServer, createRouter } from '../src/index.js';
import { GOODBYE_FRAME } from '../src/wire/goodbye.js';
import { requestFrame, startServer, transport, u32 } from './harness.js';

/*
 * An idle server connection's memory (docs/benchmarks.md, "Memory": per connection, at 10,000
 * idle ones): what every connection of a kind holds alike is one object for all of them, and
 * what only some moments need is made in them. Read through the server's own fields, as
 * abandoned-state-release.test.ts does: a size is no test, an object per connection is.
 */

const cleanup = cleanups();

/** The server's connections, as the fields these tests read. */
type Conn = { role: object; seldom: object | undefined };
const connsOf = (server: RpcServer): Conn[] => [...(server as unknown as { conns: Set<Conn> }).conns];

/** The TCP transport, recording the frame spec each accepted connection is handed (FrameConn.setFrameSpec). */
function specRecording(): { transport: Transport; specs: FrameSpec[] } {
  const specs: FrameSpec[] = [];
  const record = (conn: FrameConn): FrameConn => {
    const set = conn.setFrameSpec!.bind(conn);
    conn.setFrameSpec = (spec) => {
      specs.push(spec);
      set(spec);
    };
    return conn;
  };
  return {
    specs,
    transport: {
      name: transport.name,
      connect: (address, spec, opts) => transport.connect(address, spec, opts),
      listen: (address, spec, accept) => transport.listen(address, spec, (conn) => accept(record(conn))),
    },
  };
}

describe("an idle server connection's parts", () => {
  it('connections of one kind hold one role between them, and none holds the state of held requests, stalls, drains or reverse calls', async () => {
    const s = await startServer({ ok: () => u32(1) });
    cleanup.push(() => s.server.close());
    for (let i = 0; i < 3; i++) {
      const c = await s.connect({ keepaliveMs: 0 });
      cleanup.push(() => c.destroy());
      await c.call('ok');
    }
    const conns = connsOf(s.server);
    expect(conns).toHaveLength(3);
    expect(new Set(conns.map((c) => c.role)).size).toBe(1);
    expect(conns.map((c) => c.seldom)).toEqual([undefined, undefined, undefined]);
  });

  it("each connection's frame spec shares one bodyLength, and a copy of it ({ ...spec }) still refuses with the goodbye", async () => {
    const rec = specRecording();
    const server = new RpcServer({ dispatch: createRouter({ ok: () => u32(1) }), limits: { maxMessage: 64 } });
    cleanup.push(() => server.close());
    const { port } = (await server.listen(rec.transport, '127.0.0.1:0')) as { port: number };
    const address = `127.0.0.1:${port}`;
    for (let i = 0; i < 2; i++) {
      const c = await ClientStream.connect({ transport, address, keepaliveMs: 0 });
      cleanup.push(() => c.destroy());
      await c.call('ok');
    }
    expect(rec.specs).toHaveLength(2);
    const [a, b] = rec.specs as [FrameSpec, FrameSpec];
    expect(a.bodyLength).toBe(b.bodyLength);
    // Its client read goodbyes (a ClientStream offers them) and nothing runs: a refusal's last words end with one.
    const over = requestFrame('ok', 7, new Uint8Array(65));
    let thrown: unknown;
    try {
      ({ ...a }).bodyLength(over, 0);
    } catch (err) {
      thrown = err;
    }
    expect(thrown).toBeInstanceOf(FrameError);
    const words = (thrown as FrameError).lastWords!;
    expect([...words.subarray(words.length - GOODBYE_FRAME.length)]).toEqual([...GOODBYE_FRAME]);
  });

  it('a transport that calls that bodyLength detached is told the rule it broke, in the line that closes the connection', async () => {
    const logger = memoryLogger();
    const server = new RpcServer({ dispatch: createRouter({ ok: () => u32(1) }), logger });
    cleanup.push(() => server.close());
    const { port } = (await server.listen(specHandling(transport, detachedBodyLength), '127.0.0.1:0')) as { port: number };
    const c = await ClientStream.connect({ transport, address: `127.0.0.1:${port}`, keepaliveMs: 0 });
    cleanup.push(() => c.destroy());
    await expect(c.call('ok')).rejects.toThrow();
    await waitFor(() => logger.lines.some((l) => l.msg?.startsWith('closing connection')), { what: "the server's line closing the connection" });
    const closing = logger.lines.find((l) => l.msg?.startsWith('closing connection'))!;
    expect(closing.obj.reason).toMatch(/^the transport called FrameSpec\.bodyLength with this undefined: call it as the spec's method, spec\.bodyLength\(bytes, at\), as core's frameBodyLength\(spec, bytes, at\) does, never detached/);
  });
});
