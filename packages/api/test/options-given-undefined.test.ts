import { msgpackCodec } from '@skein/codec-msgpack';
import { RpcServer } from '@skein/stream';
import { cleanups } from '@skein/test-utils';
import { describe, expect, it } from 'vitest';
import { bearerAuth, bearerToken, createCluster, createServiceDispatch, implement, method, overloadShedding, service, type Filter } from '../src/index.js';
import { listening, transport } from './harness.js';

const cleanup = cleanups();

// A consumer under exactOptionalPropertyTypes hands on settings it may not have
// (`{ key: cfg.tokenKey }`), and api's options types admit it (`?: T | undefined`): such a field
// is one left out, never refused nor put over its default (the bearer key stays
// `authorization`, the overload limits 70 ms and 10 ms, a cluster its defaults).

const unset = undefined;
const Echo = service('Echo', { echo: method<string, string>() });

describe("api's options given undefined", () => {
  it('bearerAuth, bearerToken, overloadShedding, a Filter and createCluster take each as left out', async () => {
    const shedding = overloadShedding({ maxLagMs: unset, sampleMs: unset });
    cleanup.push(() => shedding.stop());
    const plain: Filter = { name: unset, before: unset, after: unset };
    const dispatch = createServiceDispatch({
      codec: msgpackCodec,
      services: [implement(Echo, { echo: (s, ctx) => `${s} from ${String(ctx.meta.principal)}` })],
      filters: [bearerAuth((token) => (token === 'tok' ? 'alice' : undefined), { key: unset, skip: unset }), shedding, plain],
    });
    const { address } = await listening(new RpcServer({ dispatch }), cleanup);
    const rpc = createCluster({
      codec: msgpackCodec,
      transport,
      types: { echo: { services: [Echo], servers: [{ id: 'e1', address, weight: unset }], route: unset, strategy: unset, pool: { retries: unset, pool: unset } } },
      timeoutMs: unset,
      filters: [bearerToken(() => 'tok', { key: unset }), plain],
      logger: unset,
      credentials: unset,
      onMembershipChange: unset,
      wrapCaller: unset,
    });
    cleanup.push(() => rpc.$cluster.close());
    // The token went under the default key, `authorization: Bearer tok`, and was read from there.
    expect(await rpc.echo.Echo.echo('hi')).toBe('hi from alice');
    expect(await rpc.echo.$to('e1').Echo.echo('again', { route: unset })).toBe('again from alice');
    expect(shedding.lagMs).toBeLessThan(1_000);
  });
});
