import type { Metadata } from '@skein/stream';
import { describe, expectTypeOf, it } from 'vitest';
import { bearerAuth, createServiceDispatch, type CallInfo, type Filter, type ServerCallInfo, type ServerFilter } from '../src/index.js';

declare const codec: Parameters<typeof createServiceDispatch>[0]['codec'];

describe("a server filter's info: metadata always set", () => {
  it('a ServerFilter reads info.metadata with no ?. or !', () => {
    const auth: ServerFilter = {
      before(info) {
        expectTypeOf(info.metadata).toEqualTypeOf<Metadata>();
        expectTypeOf(info.metadata.authorization).toEqualTypeOf<string>();
        expectTypeOf(info.side).toEqualTypeOf<'server'>();
      },
    };
    createServiceDispatch({ codec, services: [], filters: [auth] });
  });

  it("createServiceDispatch's filters written in place get a ServerCallInfo", () => {
    createServiceDispatch({
      codec,
      services: [],
      filters: [{ before: (info) => void expectTypeOf(info).toEqualTypeOf<ServerCallInfo>(), after: (info) => void expectTypeOf(info.metadata).toEqualTypeOf<Metadata>() }],
    });
  });

  it('a Filter of either side keeps metadata optional; code with ?. or ! compiles, and it still goes to a server', () => {
    const either: Filter = {
      before(info) {
        expectTypeOf(info).toEqualTypeOf<CallInfo>();
        expectTypeOf(info.metadata).toEqualTypeOf<Metadata | undefined>();
        void info.metadata?.authorization;
        void info.metadata!.authorization;
      },
    };
    createServiceDispatch({ codec, services: [], filters: [either, bearerAuth(() => 'someone')] });
  });

  it('?. and ! on a ServerCallInfo still compile (code written for the old types)', () => {
    const old: ServerFilter = { before: (info) => void (info.metadata?.authorization ?? info.metadata!.authorization) };
    expectTypeOf(old).toMatchTypeOf<Filter<ServerCallInfo>>();
  });
});
