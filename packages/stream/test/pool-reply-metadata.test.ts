import { ErrorCode } from '@skein/core';
import { cleanups, waitFor } from '@skein/test-utils';
import { describe, expect, it } from 'vitest';
import { ConnPool, FailoverPool, type Metadata, type ServerRequest } from '../src/index.js';
import { transport } from './harness.js';
import { localServer, str, textOf } from './pool-harness.js';

// Reply metadata through a pool: its caller's `onReplyMetadata` is told once, with what the
// server that settles the call sent back. An attempt a server refused unrun, which the pool sent
// again (a ConnPool's resend on a fresh attempt, a FailoverPool's retry on another server), is not
// the caller's answer: what that server sent back with its refusal is never told. Before, the
// pools passed the callback on to every attempt, and it was told once per attempt answered.

const cleanup = cleanups();
const text = new TextDecoder();

/** A server whose `name`'s (and `hang`'s) first call of each msg sets `refused` and is refused unrun (`code`, bare), later ones set `answered` and answer its name. */
async function refusingOnce(name: string, code: ErrorCode, refused: Metadata | undefined, answered: Metadata) {
  const seen = new Set<string>();
  const handler = (req: ServerRequest) => {
    const key = text.decode(req.msg);
    if (!seen.has(key)) {
      seen.add(key);
      for (const [k, v] of Object.entries(refused ?? {})) req.setReplyMetadata(k, v);
      return void req.fail(code);
    }
    for (const [k, v] of Object.entries(answered)) req.setReplyMetadata(k, v);
    return str(name);
  };
  const s = await localServer({ name: handler, hang: handler });
  cleanup.push(() => s.server.close());
  return s;
}

/** A server whose `name` sets `md` and answers its name; `hang` never answers. */
async function answering(name: string, md: Metadata) {
  const s = await localServer({
    name: (req: ServerRequest) => {
      for (const [k, v] of Object.entries(md)) req.setReplyMetadata(k, v);
      return str(name);
    },
    hang: (req: ServerRequest) => {
      for (const [k, v] of Object.entries(md)) req.setReplyMetadata(k, v);
      return new Promise(() => {});
    },
  });
  cleanup.push(() => s.server.close());
  return s;
}

/** A call through `pool` and every record its `onReplyMetadata` was told. */
async function told(pool: ConnPool | FailoverPool, action: string, msg: string, signal?: AbortSignal) {
  const heard: Metadata[] = [];
  let out: string;
  try {
    out = textOf(await pool.call(action, str(msg), { signal, onReplyMetadata: (md) => heard.push({ ...md }) }));
  } catch (err) {
    out = `${(err as Error).name} ${(err as { code?: number }).code}`;
  }
  return { out, heard };
}

describe('reply metadata through a ConnPool', () => {
  it("is told once, with the server's metadata", async () => {
    const s = await answering('A', { server: 'A' });
    const pool = new ConnPool({ transport, address: s.address, maxConnections: 2 });
    cleanup.push(() => pool.destroy());
    expect(await told(pool, 'name', '1')).toEqual({ out: 'A', heard: [{ server: 'A' }] });
    // A burst over both connections: each call told once, its own.
    const burst = await Promise.all(Array.from({ length: 20 }, (_, i) => told(pool, 'name', String(i))));
    expect(burst).toEqual(burst.map(() => ({ out: 'A', heard: [{ server: 'A' }] })));
  });

  it("a call the server refused unrun and the pool sent again is told once, the answer's metadata, not the refusal's", async () => {
    const s = await refusingOnce('A', ErrorCode.Closed, { attempt: 'refused' }, { attempt: 'answered' });
    const pool = new ConnPool({ transport, address: s.address, maxConnections: 1 });
    cleanup.push(() => pool.destroy());
    expect(await told(pool, 'name', '1')).toEqual({ out: 'A', heard: [{ attempt: 'answered' }] });
    expect(s.counts.name).toBe(2);
  });
});

describe('reply metadata through a FailoverPool', () => {
  function failover(servers: string[]): FailoverPool {
    const pool = new FailoverPool({ transport, servers, strategy: 'leader' });
    cleanup.push(() => pool.destroy());
    return pool;
  }

  it("is told once, with the answering server's metadata", async () => {
    const a = await answering('A', { server: 'A' });
    const b = await answering('B', { server: 'B' });
    const pool = failover([a.address, b.address]);
    expect(await told(pool, 'name', '1')).toEqual({ out: 'A', heard: [{ server: 'A' }] });
  });

  it('a call refused unrun by one server and retried on another is told once, with the second server\'s metadata: whether or not the refusal carried some', async () => {
    const a = await refusingOnce('A', ErrorCode.Overloaded, { server: 'A' }, { server: 'A' });
    const b = await answering('B', { server: 'B' });
    const pool = failover([a.address, b.address]);
    // A refuses it (with metadata): it runs on B.
    expect(await told(pool, 'name', 'with')).toEqual({ out: 'B', heard: [{ server: 'B' }] });
    const bare = await refusingOnce('C', ErrorCode.Overloaded, undefined, {});
    const pool2 = failover([bare.address, b.address]);
    // C refuses it with none (its empty record is not told either).
    expect(await told(pool2, 'name', 'without')).toEqual({ out: 'B', heard: [{ server: 'B' }] });
    expect([a.counts.name, bare.counts.name, b.counts.name]).toEqual([1, 1, 2]);
  });

  it("is not told at all when the retry ends on the client's side (a cancel): the refused attempt's metadata is not the caller's", async () => {
    const a = await refusingOnce('A', ErrorCode.Overloaded, { server: 'A' }, { server: 'A' });
    const b = await answering('B', { server: 'B' });
    const pool = failover([a.address, b.address]);
    const cancel = new AbortController();
    const call = told(pool, 'hang', 'x', cancel.signal);
    // The retry runs on B, which never answers: the caller cancels it there.
    await waitFor(() => b.counts.hang === 1 || undefined, { what: 'the retry on B' });
    cancel.abort();
    expect(await call).toEqual({ out: `RpcError ${ErrorCode.Cancelled}`, heard: [] });
    expect(a.counts.hang).toBe(1);
  });
});
