import type { Caller } from '@skein/stream';
import { describe, expectTypeOf, it } from 'vitest';
import { z } from 'zod';
import { createClient, method, serverStream, service, type Cluster, type ServerTypeConfig } from '../src/index.js';

// An argument that may be undefined may be left out, as tRPC's optional input may: the stub
// sends `undefined` as the empty message either way (razor's unit value).
const Catalog = service('Catalog', {
  list: method<{ page?: number } | undefined, string[]>(),
  count: method<undefined, number>(),
  filtered: method({ input: z.object({ tag: z.string() }).optional(), output: z.array(z.string()) }),
  tail: serverStream<{ from?: number } | undefined, string>(),
  get: method<{ id: string }, string>(),
});

declare const caller: Caller;
const catalog = createClient(Catalog, caller, { codec: null! });

describe('an argument that may be undefined may be left out', () => {
  it('on a call, its result form and a stream', () => {
    expectTypeOf(catalog.list()).resolves.toEqualTypeOf<string[]>();
    expectTypeOf(catalog.count()).resolves.toEqualTypeOf<number>();
    expectTypeOf(catalog.filtered()).resolves.toEqualTypeOf<string[]>();
    expectTypeOf(catalog.list.result()).resolves.toHaveProperty('ok');
    expectTypeOf(catalog.tail()).resolves.toEqualTypeOf<AsyncIterable<string>>();
    void catalog.list(undefined, { timeoutMs: 10 });
    void catalog.list({ page: 2 });
  });

  it('through a cluster, $all too', () => {
    const rpc = null! as Cluster<{ cat: ServerTypeConfig<readonly [typeof Catalog]> }>;
    expectTypeOf(rpc.cat.Catalog.count()).resolves.toEqualTypeOf<number>();
    void rpc.cat.$all.Catalog.list();
  });

  it('not one that must be given', () => {
    // @ts-expect-error get needs its id
    void catalog.get();
    // @ts-expect-error nor through $all
    void (null! as Cluster<{ cat: ServerTypeConfig<readonly [typeof Catalog]> }>).cat.$all.Catalog.get();
    // @ts-expect-error page is a number
    void catalog.list({ page: '2' });
    expectTypeOf(catalog.get).parameter(0).toEqualTypeOf<{ id: string }>();
    expectTypeOf(catalog.list).parameter(0).toEqualTypeOf<{ page?: number } | undefined>();
  });
});
