import { ErrorCode } from '@skein/core';
import { afterEach, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { uwsTransport, wsTransport } from '../src/browser.js';
import { wsTransport as nodeWsTransport, type StandardWebSocketCtor } from '../src/index.js';
import { frame, record, spec, startServer, text, until } from './helpers.js';

// The `browser` export condition's entry, run under Node with ws standing in for the page's
// WebSocket (its constructor takes a URL and speaks the standard events).
const Standard = WebSocket as unknown as StandardWebSocketCtor;

describe('the browser entry', () => {
  const cleanup: (() => unknown)[] = [];
  afterEach(async () => {
    for (const f of cleanup.splice(0)) await f();
  });

  it('connects with the standard WebSocket and round-trips frames', async () => {
    const s = await startServer(nodeWsTransport(), { echo: true });
    cleanup.push(() => s.listener.close());
    const conn = await wsTransport({ WebSocket: Standard }).connect({ host: '127.0.0.1', port: s.port }, spec);
    cleanup.push(() => conn.close());
    const c = record(conn);
    conn.write(frame('from a page'));
    await until(() => c.bodies.length === 1, 'the echo');
    expect(text(c.bodies[0]!)).toBe('from a page');
  });

  it('cannot listen: a page connects, it does not serve', async () => {
    for (const t of [wsTransport(), uwsTransport()]) {
      await expect(t.listen({ host: '127.0.0.1', port: 0 }, spec, () => {})).rejects.toMatchObject({ code: ErrorCode.InvalidArgument });
    }
  });

  it('has reloadTls and tlsGeneration as the Node entry does: a reload is refused, nothing is counted', async () => {
    for (const t of [wsTransport(), uwsTransport()]) {
      await expect(t.reloadTls({ ca: '' })).rejects.toMatchObject({ code: ErrorCode.InvalidArgument, message: expect.stringMatching(/reloadTls is not available in a browser build/) });
      expect(t.tlsGeneration()).toBe(0);
    }
  });

  const hasGlobal = typeof (globalThis as { WebSocket?: unknown }).WebSocket !== 'undefined';
  it.skipIf(hasGlobal)(
    `without a WebSocket in the global scope or the options, connect says to pass one${hasGlobal ? ' (skipped: this runtime has a global WebSocket)' : ''}`,
    async () => {
      const err = await wsTransport().connect({ host: '127.0.0.1', port: 1 }, spec).catch((e: unknown) => e);
      expect(err).toMatchObject({ code: ErrorCode.InvalidArgument, message: expect.stringMatching(/WebSocket/) });
    },
  );
});
