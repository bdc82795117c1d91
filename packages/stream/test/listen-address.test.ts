import { tmpSocketPath, cleanups } from '@skein/test-utils';
import { wsTransport } from '@skein/transport-ws';
import { describe, expect, it } from 'vitest';
import { RpcServer, createRouter } from '../src/index.js';
import { transport as tcp } from './harness.js';

// What listen-address.test-d.ts types: every transport binds to the kind of address asked for.
const cleanup = cleanups();

function server(): RpcServer {
  const s = new RpcServer({ dispatch: createRouter({}) });
  cleanup.push(() => s.close());
  return s;
}

describe('RpcServer.listen resolves with the kind of address asked for', () => {
  it('a host and its bound port for a host, over TCP and WebSocket', async () => {
    for (const t of [tcp, wsTransport()]) {
      const a = await server().listen(t, '127.0.0.1:0');
      expect(a).toMatchObject({ host: '127.0.0.1', port: expect.any(Number) });
      expect(a.port).toBeGreaterThan(0);
      expect('path' in a).toBe(false);
    }
  });

  it('the path for a Unix socket', async () => {
    const path = tmpSocketPath('listen-kind');
    const a = await server().listen(tcp, `unix:${path}`);
    expect(a.path).toBe(path);
    expect('port' in a).toBe(false);
  });
});
