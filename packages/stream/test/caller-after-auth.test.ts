import { cleanups, deferred, waitFor } from '@skein/test-utils';
import { describe, expect, it } from 'vitest';
import { createRouter } from '../src/index.js';
import { startServer } from './harness.js';
import { sendBy } from './reverse-harness.js';

const cleanup = cleanups();

// A server that authenticates refuses a connection's calls until its credentials are accepted;
// its own calls to that connection wait as long: code that pushes to every open connection
// (`openConnections()[i].caller`) must not reach one that has not shown who it is.
describe('calls both ways on a server that authenticates', () => {
  it("a connection's caller is undefined while its credentials are judged, and given once they are accepted", async () => {
    const release = deferred<void>();
    let judged = 0;
    const s = await startServer(
      {},
      {
        authenticate: async ({ text }) => {
          judged++;
          await release.promise;
          return text === 'good' ? { principal: { name: 'ada' } } : undefined;
        },
      },
    );
    cleanup.push(() => s.server.close());
    const serve = createRouter({ 'peer.echo': (req) => req.msg });
    const connecting = s.connect({ keepaliveMs: 0, credentials: 'good', serve });
    await waitFor(() => judged === 1, { what: 'the credentials to reach the hook' });
    const [pending] = s.server.openConnections();
    expect(pending!.principal).toBeUndefined();
    expect(pending!.caller).toBeUndefined();

    release.resolve();
    const client = await connecting;
    cleanup.push(() => client.destroy());
    const [accepted] = s.server.openConnections();
    expect(accepted!.caller).toBeDefined();
    expect(new TextDecoder().decode(await sendBy(accepted!.caller!, 'peer.echo', new TextEncoder().encode('hi')))).toBe('hi');
  });
});
