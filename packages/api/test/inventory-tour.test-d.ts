import { codeErrors, type RpcError, type RemoteError } from '@skein/core';
import type { Caller } from '@skein/stream';
import { describe, expectTypeOf, it } from 'vitest';
import { z } from 'zod';
import { bidiStream, clientStream, createClient, implement, method, serverStream, service, withBlob, type Cluster, type Result, type ServerTypeConfig, type WithBlob } from '../src/index.js';

// A new user's service, every kind of method at once: what it must and must not compile.
// Error classes carry a member of their own (`name` as a literal): TypeScript compares classes by
// shape, so two empty `class X extends Error {}` are one type and an error union cannot tell them apart.
class OutOfStock extends Error {
  override readonly name = 'OutOfStock';
  constructor(readonly sku: string) {
    super(sku);
  }
}
class NoSuchRoom extends Error {
  override readonly name = 'NoSuchRoom';
}

type Item = { sku: string; qty: number };
type Msg = { from: string; text: string };

const Inventory = service('Inventory', {
  get: method<{ sku: string }, Item>().idempotent(),
  take: method<Item, { left: number }>().throws(codeErrors({ 1: OutOfStock })),
  list: method<void, Item[]>(),
  watch: serverStream<{ prefix: string }, Item>(),
  restock: clientStream<Item, { total: number }>(),
  sync: bidiStream<Item, Item>().throws(codeErrors({ 1: OutOfStock })),
  photo: method<{ sku: string }, { mime: string }>().blob(),
});
const Chat = service('Chat', { say: method<Msg, void>().throws(codeErrors({ 7: NoSuchRoom })) });
// The connecting side's own service, which the server calls back over the same connection.
const Terminal = service('Terminal', { notify: method<string, boolean>() });

declare const caller: Caller;
const inv = createClient(Inventory, caller, { codec: null! });
const chat = createClient(Chat, caller, { codec: null! });

describe('a tour of a service with every kind of method: what must compile', () => {
  it('infers results, stream items, optional void arguments and error unions', async () => {
    expectTypeOf(inv.get({ sku: 'a' })).resolves.toEqualTypeOf<Item>();
    expectTypeOf(inv.list()).resolves.toEqualTypeOf<Item[]>();
    for await (const item of await inv.watch({ prefix: '' })) expectTypeOf(item).toEqualTypeOf<Item>();
    expectTypeOf(inv.take.result({ sku: 'a', qty: 1 })).resolves.toEqualTypeOf<Result<{ left: number }, OutOfStock>>();
    const r = await inv.take.result({ sku: 'a', qty: 1 });
    if (!r.ok && r.error instanceof OutOfStock) expectTypeOf(r.error.sku).toEqualTypeOf<string>();
    expectTypeOf(chat.say({ from: 'a', text: 'b' })).resolves.toEqualTypeOf<void>();
  });

  it("keeps one service's errors out of another's union", () => {
    type ChatErr = Extract<Awaited<ReturnType<typeof chat.say.result>>, { ok: false }>['error'];
    expectTypeOf<ChatErr>().toEqualTypeOf<NoSuchRoom | RpcError | RemoteError>();
    expectTypeOf<Extract<ChatErr, OutOfStock>>().toBeNever();
  });

  it('streams each way and blobs', async () => {
    async function* items(): AsyncGenerator<Item> {
      yield { sku: 'a', qty: 1 };
    }
    expectTypeOf(inv.restock(items())).resolves.toEqualTypeOf<{ total: number }>();
    expectTypeOf(inv.sync(items())).resolves.toEqualTypeOf<AsyncIterable<Item>>();
    expectTypeOf(inv.photo(withBlob({ sku: 'a' }, new Uint8Array()))).resolves.toEqualTypeOf<WithBlob<{ mime: string }>>();
  });

  it('implements every kind, with ctx typed and reverse calls through ctx.caller', () => {
    implement(Inventory, {
      get: ({ sku }) => ({ sku, qty: 1 }),
      take: async (item, ctx) => {
        expectTypeOf(ctx.deadline).toEqualTypeOf<number | undefined>();
        expectTypeOf(ctx.remainingMs()).toEqualTypeOf<number | undefined>();
        expectTypeOf(ctx.metadata).toEqualTypeOf<Readonly<Record<string, string>>>();
        expectTypeOf(ctx.draining).toEqualTypeOf<AbortSignal>();
        expectTypeOf(ctx.caller).toEqualTypeOf<Caller | undefined>();
        const terminal = createClient(Terminal, ctx.caller!, { codec: null! });
        expectTypeOf(terminal.notify('low stock', { ctx, metadata: { trace: 't' } })).resolves.toEqualTypeOf<boolean>();
        if (item.qty > 3) throw new OutOfStock(item.sku);
        return { left: 0 };
      },
      list: () => [],
      async *watch({ prefix }, ctx) {
        if (!ctx.signal.aborted) yield { sku: prefix, qty: 0 };
      },
      async restock(items) {
        let total = 0;
        for await (const i of items) total += i.qty;
        return { total };
      },
      async *sync(items) {
        for await (const i of items) yield i;
      },
      photo: ({ value, blob }) => withBlob({ mime: `${value.sku}/${blob.length}` }, blob),
    });
  });

  it('through a cluster: routed calls, $to, and $all without the streams', () => {
    const rpc = null! as Cluster<{ inv: ServerTypeConfig<readonly [typeof Inventory]> }>;
    expectTypeOf(rpc.inv.Inventory.get({ sku: 'a' }, { route: 'a' })).resolves.toEqualTypeOf<Item>();
    expectTypeOf(rpc.inv.$to('inv-1').Inventory.restock([])).resolves.toEqualTypeOf<{ total: number }>();
    expectTypeOf<keyof typeof rpc.inv.$all.Inventory>().toEqualTypeOf<'get' | 'take' | 'list' | 'photo'>();
  });
});

describe('a tour of a service with every kind of method: what must not compile', () => {
  it('wrong arguments and a method of one kind called as another', async () => {
    // @ts-expect-error qty must be a number
    void inv.take({ sku: 'a', qty: '1' });
    // @ts-expect-error a server stream gives an iterable of Items, not an Item
    const item: Item = await inv.watch({ prefix: '' });
    void item;
    // @ts-expect-error a client stream takes a stream of Items, not one
    void inv.restock({ sku: 'a', qty: 1 });
    // @ts-expect-error withBlob for a method not declared .blob()
    void inv.get(withBlob({ sku: 'a' }, new Uint8Array()));
    // @ts-expect-error a .blob() method needs its WithBlob
    void inv.photo({ sku: 'a' });
    // @ts-expect-error get takes an argument
    void inv.get();
  });

  it('ctx fields that do not exist', () => {
    // @ts-expect-error no deadlineMs: it is ctx.deadline or ctx.remainingMs()
    implement(Chat, { say: (_m, ctx) => void ctx.deadlineMs });
  });

  it('missing, extra and mistyped handlers', () => {
    // @ts-expect-error an extra handler, for no method
    implement(Chat, { say: () => undefined, shout: () => undefined });
    // @ts-expect-error list and the others are missing
    implement(Inventory, { get: ({ sku }) => ({ sku, qty: 0 }) });
    implement(Inventory, {
      get: null!,
      take: null!,
      list: null!,
      watch: null!,
      restock: null!,
      // @ts-expect-error sync yields strings where Items are declared
      async *sync() {
        yield 'x';
      },
      photo: null!,
    });
    // @ts-expect-error an async handler of the wrong result
    implement(Chat, { say: async () => 42 });
  });
});
