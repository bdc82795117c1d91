import { msgpackCodec } from '@skein/codec-msgpack';
import { ErrorCode, silentLogger } from '@skein/core';
import { RpcServer, type FailoverPool } from '@skein/stream';
import { freePort, muteServer, portOf, cleanups, waitFor } from '@skein/test-utils';
import { describe, expect, it } from 'vitest';
import { bidiStream, clientStream, createCluster, createServiceDispatch, implement, method, serverStream, service, type Member, type RouteFunction } from '../src/index.js';
import { transport } from './harness.js';

const Area = service('Area', {
  whoami: method<void, string>(),
  enter: method<{ player: string }, string>(),
  fail: method<void, void>(),
});

const cleanup = cleanups();

/** Starts an Area server that answers with its own id. */
async function areaServer(id: string): Promise<Member> {
  return (await areaServerOf(id)).member;
}

/** `areaServer`, with its RpcServer: for a test that closes it. */
async function areaServerOf(id: string): Promise<{ member: Member; server: RpcServer }> {
  const server = new RpcServer({
    dispatch: createServiceDispatch({
      codec: msgpackCodec,
      logger: silentLogger, // `fail` is meant to fail
      services: [
        implement(Area, {
          whoami: () => id,
          enter: ({ player }) => `${player}@${id}`,
          fail: () => {
            throw new Error('nope');
          },
        }),
      ],
    }),
  });
  const a = await server.listen(transport, '127.0.0.1:0');
  cleanup.push(() => server.close());
  return { member: { id, address: `127.0.0.1:${portOf(a)}` }, server };
}

async function threeAreas() {
  const members = await Promise.all(['area-1', 'area-2', 'area-3'].map(areaServer));
  const events: string[] = [];
  const rpc = createCluster({
    codec: msgpackCodec,
    transport,
    types: {
      area: {
        services: [Area],
        servers: members,
        // pomelo style: the route key names the area directly
        route: (key, servers) => servers.find((s) => s.id === key)?.id ?? key,
      },
      lobby: { services: [Area], servers: members, strategy: 'round-robin' },
    },
    onMembershipChange: (event, type, m) => void events.push(`${event}:${type}:${m.id}`),
  });
  cleanup.push(() => rpc.$cluster.close());
  return { rpc, members, events };
}

describe('cluster client', () => {
  it('routes a call by its route key to the server the route function names', async () => {
    const { rpc } = await threeAreas();
    expect(await rpc.area.Area.whoami(undefined, { route: 'area-2' })).toBe('area-2');
    expect(await rpc.area.Area.enter({ player: 'ann' }, { route: 'area-3' })).toBe('ann@area-3');
  });

  it('fails at once, with a clear error, when the route names no server', async () => {
    const { rpc } = await threeAreas();
    await expect(rpc.area.Area.whoami(undefined, { route: 'area-9' })).rejects.toMatchObject({
      code: ErrorCode.InvalidArgument,
      message: "Area.whoami: no server 'area-9' of type 'area'",
    });
    await expect(rpc.area.$to('nobody').Area.whoami()).rejects.toMatchObject({ code: ErrorCode.InvalidArgument });
  });

  it('says the route function named no server when it returns undefined, not a server named "undefined"', async () => {
    const members = await Promise.all(['area-1'].map(areaServer));
    const rpc = createCluster({ codec: msgpackCodec, transport, types: { area: { services: [Area], servers: members, route: () => undefined } } });
    cleanup.push(() => rpc.$cluster.close());
    await expect(rpc.area.Area.whoami(undefined, { route: 'room-7' })).rejects.toMatchObject({
      code: ErrorCode.InvalidArgument,
      message: `Area.whoami: route function of 'area' named no server for route key "room-7"`,
    });
  });

  // A plain JS route function's `?? null`, or a number: no server named 'null' or '7'.
  it.each([null, 7])('says the route function named no server when it returns %j', async (none) => {
    const members = await Promise.all(['area-1'].map(areaServer));
    const route = (() => none) as unknown as RouteFunction;
    const rpc = createCluster({ codec: msgpackCodec, transport, types: { area: { services: [Area], servers: members, route } } });
    cleanup.push(() => rpc.$cluster.close());
    await expect(rpc.area.Area.whoami(undefined, { route: 'room-7' })).rejects.toMatchObject({
      code: ErrorCode.InvalidArgument,
      message: `Area.whoami: route function of 'area' named no server for route key "room-7"`,
    });
  });

  it('refuses $to without a server id where it is written, not as a call to a server named "undefined"', async () => {
    const { rpc } = await threeAreas();
    for (const [id, got] of [[undefined, 'undefined'], [null, 'null'], [2, 'number']] as const) {
      expect(() => rpc.area.$to(id as unknown as string)).toThrow(expect.objectContaining({ code: ErrorCode.InvalidArgument, message: `$to needs a server id (a string), got ${got}` }));
    }
    // A string is still an id, known or not: the call fails, the stubs are made.
    await expect(rpc.area.$to('nobody').Area.whoami()).rejects.toMatchObject({ message: "Area.whoami: no server 'nobody' of type 'area'" });
  });

  it('calls one named server directly', async () => {
    const { rpc } = await threeAreas();
    for (const id of ['area-1', 'area-2', 'area-3']) expect(await rpc.lobby.$to(id).Area.whoami()).toBe(id);
  });

  it('spreads calls over the servers with the type strategy', async () => {
    const { rpc } = await threeAreas();
    const seen = await Promise.all(Array.from({ length: 30 }, () => rpc.lobby.Area.whoami()));
    expect(new Set(seen)).toEqual(new Set(['area-1', 'area-2', 'area-3']));
  });

  it("broadcasts to every server of a type, collecting each one's result or error", async () => {
    const { rpc } = await threeAreas();
    const all = await rpc.lobby.$all.Area.whoami();
    expect(all.map((r) => r.server).sort()).toEqual(['area-1', 'area-2', 'area-3']);
    for (const r of all) expect(r).toMatchObject({ ok: true, value: r.server });
    const failed = await rpc.lobby.$all.Area.fail();
    expect(failed).toHaveLength(3);
    for (const r of failed) expect(r).toMatchObject({ ok: false, error: { code: ErrorCode.Internal } });
  });

  it('adds and removes servers at run time, with events', async () => {
    const { rpc, events } = await threeAreas();
    const four = await areaServer('area-4');
    rpc.$cluster.add('area', four);
    expect(await rpc.area.Area.whoami(undefined, { route: 'area-4' })).toBe('area-4');
    expect(rpc.$cluster.members('area').map((m) => m.id)).toContain('area-4');
    await rpc.$cluster.remove('area', 'area-4');
    await expect(rpc.area.$to('area-4').Area.whoami()).rejects.toMatchObject({ code: ErrorCode.InvalidArgument });
    expect(events).toEqual(['add:area:area-4', 'remove:area:area-4']);
    // The others are untouched.
    expect(await rpc.area.Area.whoami(undefined, { route: 'area-1' })).toBe('area-1');
  });

  it('fails a routed or $to call waiting, unsent, on a member removed with Unreachable, retry-safe, naming its server: not Closed', async () => {
    const hung = await muteServer(); // accepts, never answers: calls wait on its first connect
    const live = await areaServer('area-1');
    let pool: FailoverPool | undefined;
    const rpc = createCluster({
      codec: msgpackCodec,
      transport,
      types: { area: { services: [Area], servers: [{ id: 'hung', address: hung.address }, live], route: (key) => key } },
      wrapCaller: (caller, target) => ((pool = target.pool), caller),
    });
    cleanup.push(() => rpc.$cluster.close());
    const routed = rpc.area.Area.whoami(undefined, { route: 'hung' }).catch((e: unknown) => e);
    const pinned = rpc.area.$to('hung').Area.whoami().catch((e: unknown) => e);
    await waitFor(() => pool?.stats().find((st) => st.address === hung.address)?.queued === 2 || undefined, { what: 'the calls waiting on the hung member' });
    void rpc.$cluster.remove('area', 'hung');
    // Before: Closed, "pool for … closed before the call was sent", as if the cluster were closed.
    for (const err of await Promise.all([routed, pinned])) {
      expect(err).toMatchObject({ code: ErrorCode.Unreachable, retry: 'safe', message: `Area.whoami: server ${hung.address} left the pool before the call was sent` });
    }
    expect(rpc.$cluster.closed).toBe(false);
    expect(await rpc.area.Area.whoami(undefined, { route: 'area-1' })).toBe('area-1');
  });

  it('hands the route function one members list per membership, kept up to date by add and remove', async () => {
    const members = await Promise.all(['area-1', 'area-2'].map(areaServer));
    const seen: (readonly Member[])[] = [];
    const rpc = createCluster({
      codec: msgpackCodec,
      transport,
      types: {
        area: {
          services: [Area],
          // Another spelling of the address: calls still reach the server.
          servers: [members[0]!, { ...members[1]!, address: `tcp://${members[1]!.address}` }],
          route: (key, servers) => (seen.push(servers), key),
        },
      },
    });
    cleanup.push(() => rpc.$cluster.close());
    expect(await rpc.area.Area.whoami(undefined, { route: 'area-1' })).toBe('area-1');
    expect(await rpc.area.Area.whoami(undefined, { route: 'area-2' })).toBe('area-2');
    expect(seen[1]).toBe(seen[0]); // no copy per call
    expect(seen[0]!.map((m) => m.id)).toEqual(['area-1', 'area-2']);
    // members() is the caller's own copy.
    const copy = rpc.$cluster.members('area');
    copy.pop();
    expect(rpc.$cluster.members('area').map((m) => m.id)).toEqual(['area-1', 'area-2']);
    const three = await areaServer('area-3');
    rpc.$cluster.add('area', three);
    expect(await rpc.area.Area.whoami(undefined, { route: 'area-3' })).toBe('area-3');
    expect(seen[2]!.map((m) => m.id)).toEqual(['area-1', 'area-2', 'area-3']);
    expect(seen[0]!.map((m) => m.id)).toEqual(['area-1', 'area-2']); // a list handed out earlier does not change
    await rpc.$cluster.remove('area', 'area-1');
    await expect(rpc.area.Area.whoami(undefined, { route: 'area-1' })).rejects.toMatchObject({ code: ErrorCode.InvalidArgument });
    expect(seen[3]!.map((m) => m.id)).toEqual(['area-2', 'area-3']);
    const all = await rpc.area.$all.Area.whoami();
    expect(all.map((r) => r.server)).toEqual(['area-2', 'area-3']);
  });

  it('adds a member all or nothing: one the pool refuses is never listed, routed to or broadcast to', async () => {
    const { rpc, events } = await threeAreas();
    const refused = [
      { id: 'bad-address', address: 'not an address' },
      { id: 'bad-weight', address: '127.0.0.1:1', weight: -1 },
      { id: '', address: '127.0.0.1:1' },
    ];
    for (const m of refused) expect(() => rpc.$cluster.add('area', m)).toThrow(expect.objectContaining({ code: ErrorCode.InvalidArgument }));
    expect(rpc.$cluster.members('area').map((m) => m.id)).toEqual(['area-1', 'area-2', 'area-3']);
    expect((await rpc.area.$all.Area.whoami()).map((r) => r.server)).toEqual(['area-1', 'area-2', 'area-3']);
    await expect(rpc.area.Area.whoami(undefined, { route: 'bad-address' })).rejects.toMatchObject({ code: ErrorCode.InvalidArgument });
    // The id is still free: the same member, well formed, joins.
    const good = await areaServer('bad-weight');
    rpc.$cluster.add('area', good);
    expect(await rpc.area.Area.whoami(undefined, { route: 'bad-weight' })).toBe('bad-weight');
    expect(events).toEqual(['add:area:bad-weight']);
  });

  it('refuses to add to a closed cluster, and lists nothing new', async () => {
    const { rpc } = await threeAreas();
    await rpc.$cluster.close();
    expect(() => rpc.$cluster.add('area', { id: 'late', address: '127.0.0.1:1' })).toThrow(expect.objectContaining({ code: ErrorCode.Closed }));
    expect(rpc.$cluster.members('area').map((m) => m.id)).toEqual(['area-1', 'area-2', 'area-3']);
  });

  it('keeps a membership change whole when the onMembershipChange listener throws', async () => {
    const member = await areaServer('area-1');
    const rpc = createCluster({
      codec: msgpackCodec,
      transport,
      logger: silentLogger,
      types: { area: { services: [Area], route: (key) => key } },
      onMembershipChange: () => {
        throw new Error('listener bug');
      },
    });
    cleanup.push(() => rpc.$cluster.close());
    rpc.$cluster.add('area', member);
    expect(await rpc.area.Area.whoami(undefined, { route: 'area-1' })).toBe('area-1');
    await rpc.$cluster.remove('area', 'area-1');
    expect(rpc.$cluster.members('area')).toEqual([]);
  });

  it('fails with Unreachable, retry-safe, when a routed type has no server at all, as a pool does', async () => {
    const routed: (readonly Member[])[] = [];
    const rpc = createCluster({
      codec: msgpackCodec,
      transport,
      types: {
        // A hash-style route function: it cannot pick from an empty list.
        area: { services: [Area], route: (key, servers) => (routed.push(servers), servers[(key ?? '').length % servers.length]!.id) },
        lobby: { services: [Area] },
      },
    });
    cleanup.push(() => rpc.$cluster.close());
    const pooled = await rpc.lobby.Area.whoami().catch((e: unknown) => e);
    expect(pooled).toMatchObject({ code: ErrorCode.Unreachable, retry: 'safe' });
    await expect(rpc.area.Area.whoami(undefined, { route: 'room-1' })).rejects.toMatchObject({
      code: ErrorCode.Unreachable,
      retry: 'safe',
      message: "Area.whoami: no servers of type 'area'",
    });
    expect(routed).toEqual([]); // never asked to pick from nothing
    // Once one joins, the route function picks again.
    rpc.$cluster.add('area', await areaServer('area-1'));
    expect(await rpc.area.Area.whoami(undefined, { route: 'room-1' })).toBe('area-1');
  });

  it('takes two ids of one server in its first members, as add does, and refuses one id listed twice', async () => {
    const a = await areaServer('area-1');
    const rpc = createCluster({
      codec: msgpackCodec,
      transport,
      types: { area: { services: [Area], servers: [a, { id: 'area-1-next', address: `tcp://${a.address}` }] } },
    });
    cleanup.push(() => rpc.$cluster.close());
    expect(rpc.$cluster.members('area').map((m) => m.id)).toEqual(['area-1', 'area-1-next']);
    expect(await rpc.area.$to('area-1-next').Area.whoami()).toBe('area-1');
    await rpc.$cluster.remove('area', 'area-1');
    expect(await rpc.area.Area.whoami()).toBe('area-1'); // the server stays while an id names it
    expect(() =>
      createCluster({ codec: msgpackCodec, transport, types: { area: { services: [Area], servers: [a, { id: 'area-1', address: '127.0.0.1:1' }] } } }),
    ).toThrow(expect.objectContaining({ code: ErrorCode.InvalidArgument, message: "server 'area-1' of type 'area' is listed twice" }));
  });

  it('updates a member in place: a new weight keeps its connection, a new address moves it, a bad one changes nothing', async () => {
    const { rpc, members, events } = await threeAreas();
    let pool: FailoverPool | undefined;
    const probe = createCluster({ codec: msgpackCodec, transport, types: { area: { services: [Area], servers: [members[0]!] } }, wrapCaller: (c, t) => ((pool = t.pool), c) });
    cleanup.push(() => probe.$cluster.close());
    expect(await probe.area.Area.whoami()).toBe('area-1');
    probe.$cluster.update('area', { ...members[0]!, weight: 4 });
    expect(pool!.stats()).toMatchObject([{ address: members[0]!.address, weight: 4, state: 'ready', connections: 1 }]);
    expect(probe.$cluster.members('area')).toEqual([{ ...members[0]!, weight: 4 }]);

    rpc.$cluster.update('area', { id: 'area-1', address: members[1]!.address });
    expect(await rpc.area.$to('area-1').Area.whoami()).toBe('area-2');
    expect(() => rpc.$cluster.update('area', { id: 'area-2', address: members[1]!.address, weight: -1 })).toThrow(expect.objectContaining({ code: ErrorCode.InvalidArgument }));
    expect(() => rpc.$cluster.update('area', { id: 'area-9', address: members[1]!.address })).toThrow(expect.objectContaining({ code: ErrorCode.InvalidArgument }));
    expect(rpc.$cluster.members('area').map((m) => `${m.id}@${m.address === members[1]!.address ? 2 : m.address === members[2]!.address ? 3 : '?'}${m.weight ?? ''}`)).toEqual(['area-2@2', 'area-3@3', 'area-1@2']);
    expect(events).toEqual(['remove:area:area-1', 'add:area:area-1']);
  });
});

describe("cluster members' liveness", () => {
  it('tells whether a member answers (a connection up), and tells its watchers of each change until they stop watching', async () => {
    const { member, server } = await areaServerOf('area-1');
    const rpc = createCluster({ codec: msgpackCodec, transport, types: { area: { services: [Area], servers: [member] } } });
    cleanup.push(() => rpc.$cluster.close());
    const answers = (): boolean => rpc.$cluster.answers('area', 'area-1');
    expect(answers()).toBe(false); // never connected to
    expect(rpc.$cluster.answers('area', 'nobody')).toBe(false);
    expect(() => rpc.$cluster.answers('nope' as 'area', 'area-1')).toThrow(expect.objectContaining({ code: ErrorCode.InvalidArgument }));

    const seen: boolean[] = [];
    const unwatch = rpc.$cluster.watchStates('area', () => void seen.push(answers()));
    expect(await rpc.area.Area.whoami()).toBe('area-1');
    expect(answers()).toBe(true);
    await waitFor(() => seen.includes(true), { what: 'the connection up told' });

    unwatch();
    const told = seen.length;
    // A watcher that stays, told after the one gone would have been: once it has heard the close, that one would have too.
    let closedSeen = false;
    cleanup.push(rpc.$cluster.watchStates('area', () => void (closedSeen ||= !answers())));
    await server.close();
    await waitFor(() => closedSeen, { what: 'the closed server told' });
    expect(answers()).toBe(false);
    expect(seen).toHaveLength(told);
  });
});

describe('cluster streams', () => {
  const Feed = service('Feed', {
    count: serverStream<number, string>(),
    sum: clientStream<number, string>(),
    echo: bidiStream<string, string>(),
  });

  /** A Feed server whose values name it; `opened` counts the streams it ran. */
  async function feedServer(id: string): Promise<Member & { opened: string[] }> {
    const opened: string[] = [];
    const server = new RpcServer({
      dispatch: createServiceDispatch({
        codec: msgpackCodec,
        services: [
          implement(Feed, {
            async *count(n) {
              opened.push('count');
              for (let i = 0; i < n; i++) yield `${id}:${i}`;
            },
            async sum(values) {
              opened.push('sum');
              let total = 0;
              for await (const v of values) total += v;
              return `${id}:${total}`;
            },
            async *echo(values) {
              opened.push('echo');
              for await (const v of values) yield `${id}:${v}`;
            },
          }),
        ],
      }),
    });
    const a = await server.listen(transport, '127.0.0.1:0');
    cleanup.push(() => server.close());
    return { id, address: `127.0.0.1:${portOf(a)}`, opened };
  }

  async function* of<T>(values: T[]): AsyncIterable<T> {
    yield* values;
  }

  const drain = async (opened: Promise<AsyncIterable<string>>): Promise<string[]> => {
    const out: string[] = [];
    for await (const v of await opened) out.push(v);
    return out;
  };

  function feedCluster(servers: Member[], route?: RouteFunction) {
    const rpc = createCluster({
      codec: msgpackCodec,
      transport,
      // connectBudgetMs: a stream to a server that is down fails soon, not after the default 10 s.
      types: { feed: { services: [Feed], servers, route, strategy: 'leader', pool: { pool: { connectBudgetMs: 50 } } } },
    });
    cleanup.push(() => rpc.$cluster.close());
    return rpc;
  }

  it('stream through a route function and $to, as through the type strategy, all three kinds', async () => {
    const f1 = await feedServer('f1');
    const f2 = await feedServer('f2');
    const rpc = feedCluster([f1, f2], (key) => key);
    expect(await drain(rpc.feed.Feed.count(2, { route: 'f2' }))).toEqual(['f2:0', 'f2:1']);
    expect(await drain(rpc.feed.$to('f1').Feed.count(2))).toEqual(['f1:0', 'f1:1']);
    expect(await rpc.feed.Feed.sum(of([1, 2, 3]), { route: 'f2' })).toBe('f2:6');
    expect(await rpc.feed.$to('f1').Feed.sum(of([4, 5]))).toBe('f1:9');
    expect(await drain(rpc.feed.Feed.echo(of(['a', 'b']), { route: 'f2' }))).toEqual(['f2:a', 'f2:b']);
    expect(await drain(rpc.feed.$to('f1').Feed.echo(of(['c'])))).toEqual(['f1:c']);
    expect(f1.opened).toEqual(['count', 'sum', 'echo']);
    expect(f2.opened).toEqual(['count', 'sum', 'echo']);
    // The type strategy's own streams (no route function) as before.
    expect(await drain(feedCluster([f1, f2]).feed.Feed.count(1))).toEqual(['f1:0']);
  });

  it('fails a stream with InvalidArgument when the route or $to names no member, or the route function throws', async () => {
    const f1 = await feedServer('f1');
    const rpc = feedCluster([f1], (key) => {
      if (key === 'throw') throw new Error('bad key');
      return key;
    });
    await expect(drain(rpc.feed.Feed.count(1, { route: 'f9' }))).rejects.toMatchObject({ code: ErrorCode.InvalidArgument, message: "Feed.count: no server 'f9' of type 'feed'" });
    await expect(rpc.feed.$to('nobody').Feed.sum(of([1]))).rejects.toMatchObject({ code: ErrorCode.InvalidArgument, message: "Feed.sum: no server 'nobody' of type 'feed'" });
    await expect(drain(rpc.feed.Feed.echo(of(['x']), { route: 'throw' }))).rejects.toMatchObject({
      code: ErrorCode.InvalidArgument,
      message: "Feed.echo: route function of 'feed' threw: Error: bad key",
    });
    expect(f1.opened).toEqual([]);
  });

  it('a stream pinned to a server that is down fails Unreachable, and never goes to the one that is up', async () => {
    const live = await feedServer('live');
    const down: Member = { id: 'down', address: `127.0.0.1:${await freePort()}` }; // nobody listens
    // Without a route function the type's pool picks 'leader' (down first) and fails over: its
    // own stream moves to live, as the control shows; the pinned ones must not.
    const rpc = feedCluster([down, live]);
    const routed = feedCluster([down, live], (key) => key);
    await expect(drain(rpc.feed.$to('down').Feed.count(1))).rejects.toMatchObject({ code: ErrorCode.Unreachable });
    await expect(drain(routed.feed.Feed.count(1, { route: 'down' }))).rejects.toMatchObject({ code: ErrorCode.Unreachable });
    expect(live.opened).toEqual([]);
    expect(await drain(rpc.feed.Feed.count(1))).toEqual(['live:0']); // the control
  });

  it('$all refuses a streaming method with InvalidArgument: a stream does not fan out', async () => {
    const f1 = await feedServer('f1');
    const f2 = await feedServer('f2');
    const rpc = feedCluster([f1, f2]);
    const all = rpc.feed.$all.Feed as unknown as Record<string, (arg: unknown) => Promise<unknown>>;
    for (const [name, arg] of [['count', 1], ['sum', [1]], ['echo', ['a']]] as const) {
      await expect(all[name]!(arg)).rejects.toMatchObject({
        code: ErrorCode.InvalidArgument,
        message: `Feed.${name}: a streaming method cannot fan out to every server of 'feed' ($all); open it on each through $to(id)`,
      });
    }
    expect([...f1.opened, ...f2.opened]).toEqual([]);
  });
});
