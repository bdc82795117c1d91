import { metadataRecord, type Dispatch, type Metadata, type ServerRequest } from '@skein/stream';
import { cleanups, memoryLogger, waitFor } from '@skein/test-utils';
import { describe, expect, it } from 'vitest';
import type { WorkerPool } from '../src/index.js';
import { CALC_MODULE, GATES_MODULE, gate, serve, startPool } from './harness.js';

// A plain call (no head on the wire) whose metadata a Dispatch in front of the pool gave it, as
// @skein/otel's tracedDispatch gives its server span's trace context: the worker's handler reads
// that metadata, and the call stays a plain one there (its connection's close frees its place).

const cleanup = cleanups();

async function pool(module: URL): Promise<WorkerPool> {
  const p = await startPool({ module, workers: 1, maxInFlightPerWorker: 1, logger: memoryLogger() });
  cleanup.push(() => p.destroy());
  return p;
}

async function served(dispatch: Dispatch) {
  const s = await serve(dispatch);
  cleanup.push(() => s.close());
  // Until the hello is answered a call's metadata travels as a plain call: a round trip first.
  await s.stream.ping();
  return s;
}

/** In front of `inner`: each request's metadata is what it came with, and `added`. */
function adding(inner: Dispatch, added: Metadata): Dispatch {
  return {
    dispatch(req: ServerRequest) {
      Object.defineProperty(req, 'metadata', { value: metadataRecord({ ...req.metadata, ...added }) });
      inner.dispatch(req);
    },
  };
}

describe('a plain call whose metadata a dispatch in front of the pool gave', () => {
  it("reaches the worker's handler with that metadata, and no deadline or signal of its own", async () => {
    const { calc } = await served(adding(await pool(CALC_MODULE), { traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01' }));
    const [plain, headed] = await Promise.all([calc.head(), calc.head(undefined, { metadata: { tenant: 'acme' } })]);
    expect(plain).toMatchObject({ deadline: null, remaining: null, metadata: { traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01' }, inherits: false, aborted: false });
    expect(headed).toMatchObject({ deadline: null, metadata: { tenant: 'acme', traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01' }, inherits: false });
  });

  it("stays a plain call in the worker: its connection's close frees its place, though its handler never answers", async () => {
    const p = await pool(GATES_MODULE);
    const a = await served(adding(p, { tenant: 'acme' }));
    const never = gate(); // never opened: a handler that hangs, ignoring its signal
    void a.stream.call(1, never.msg).catch(() => {});
    await waitFor(() => p.stats().inFlight === 1);
    a.stream.destroy();
    // The pool cancels only calls with a head; a plain call's place is freed by the worker at
    // its connection's close, which must know it for one.
    await waitFor(() => p.stats().inFlight === 0, { what: "the closed connection's plain call to give up its place" });
    await waitFor(() => a.server.connections === 0, { what: "the closed client's connection to end" });
  });
});
