import { silentLogger, type Codec, type Transport } from '@skein/core';
import type { ClientStream } from '@skein/stream';
import { describe, it } from 'vitest';
import { bearerAuth, bearerToken, callLog, createClient, createCluster, createServiceDispatch, method, service, type Filter, type ServerFilter } from '../src/index.js';

// A filter written for one side, put on the other by mistake, should fail to compile: a
// ServerFilter reads `info.metadata.x` with no `?.`, which throws a TypeError on a client call
// sent without metadata, and `bearerAuth` on a client fails every call ("no bearer token": the
// user meant `bearerToken`). A plain `Filter` (either side) still goes on both.
declare const codec: Codec, stream: ClientStream, transport: Transport;
const Notes = service('Notes', { read: method<string, string>() });
const audit: ServerFilter = { before: (info) => void info.metadata.authorization };
const either: Filter = { before: (info) => void info.metadata?.authorization };

describe("a filter is checked for the side it is put on", () => {
  it('a server filter on a client does not compile', () => {
    // @ts-expect-error a ServerFilter's info has metadata; a client call's may not
    createClient(Notes, stream, { codec, filters: [audit] });
    // @ts-expect-error bearerAuth checks a server's calls: a client wants bearerToken
    createClient(Notes, stream, { codec, filters: [bearerAuth(() => 'me')] });
    // @ts-expect-error nor on a cluster's clients
    createCluster({ codec, transport, filters: [audit], types: { notes: { services: [Notes], servers: [] } } });
  });

  it('filters of either side, and each on its own side, compile', () => {
    createClient(Notes, stream, { codec, filters: [either, bearerToken(() => 't'), callLog(silentLogger)] });
    createServiceDispatch({ codec, services: [], filters: [audit, either, bearerAuth(() => 'me'), callLog(silentLogger)] });
    createCluster({ codec, transport, filters: [either], types: { notes: { services: [Notes], servers: [] } } });
  });
});
