import { bidiStream, clientStream, createServiceDispatch, implement, method, serverStream, service } from '@skein/api';
import { msgpackCodec } from '@skein/codec-msgpack';
import { ErrorCode, invalidArgument, silentLogger } from '@skein/core';
import { nodeRuntime } from '@skein/runtime-node';
import { RpcServer, createRouter, type Dispatch } from '@skein/stream';
import { cleanups } from '@skein/test-utils';
import { tcpTransport } from '@skein/transport-tcp';
import { describe, expect, it } from 'vitest';
import { skein } from './skein-bin.js';

/*
 * `skein call` tells a server's refusal of a streaming method's plain call from any other
 * InvalidArgument by its words alone (the wire carries a built-in error's code and words, nothing
 * more), so those words are a contract between the api's servers, of every version, and the CLI:
 * reworded on one side, the CLI would lose its hint silently.
 */

const cleanup = cleanups();

const SKEW = "do the client's and the server's definitions of it differ?";
const HINT = " — call and bench make unary calls only (skein health --watch reads the health service's watch)\n";
const GUESS = ' — is it a streaming method? call and bench make unary calls only (skein health --watch reads the health service\'s watch)\n';

/** A real server over TCP answering with `dispatch`. */
async function start(dispatch: Dispatch): Promise<string> {
  const server = new RpcServer({ logger: silentLogger, dispatch });
  const a = await server.listen(tcpTransport(nodeRuntime), '127.0.0.1:0');
  cleanup.push(() => server.close());
  return `127.0.0.1:${a.port}`;
}

const Feed = service('Feed', {
  watch: serverStream<{ n: number }, number>(),
  upload: clientStream<number, number>(),
  chat: bidiStream<number, number>(),
  check: method<{ n: number }, number>(),
});

/** This version's server: @skein/api's dispatch refuses each streaming method's plain call. */
const current = () =>
  createServiceDispatch({
    codec: msgpackCodec,
    logger: silentLogger,
    services: [
      implement(Feed, {
        async *watch({ n }) {
          yield n;
        },
        async upload(xs) {
          let sum = 0;
          for await (const x of xs) sum += x;
          return sum;
        },
        async *chat(xs) {
          for await (const x of xs) yield x;
        },
        check: ({ n }) => {
          if (n < 0) throw invalidArgument('n: must not be negative, called as a unary method or not');
          return n;
        },
      }),
    ],
  });

describe("skein call of a streaming method: the server's refusal, by its words", () => {
  it("reads this version's refusal of each kind of stream, and adds that call makes unary calls only (exit 1)", async () => {
    const addr = await start(current());
    const [watch, upload, chat] = await Promise.all(['watch', 'upload', 'chat'].map((m) => skein('call', addr, `Feed.${m}`, '{"n":1}')));
    const refused = (action: string, shape: string) => `error: InvalidArgument (rpc_invalid_argument): ${action}: ${shape} on the server, called as a unary method: ${SKEW}${HINT}`;
    expect(watch).toEqual({ code: 1, stdout: '', stderr: refused('Feed.watch', 'a server stream') });
    expect(upload).toEqual({ code: 1, stdout: '', stderr: refused('Feed.upload', 'a client stream') });
    expect(chat).toEqual({ code: 1, stdout: '', stderr: refused('Feed.chat', 'a bidirectional stream') });
  });

  it("reads an older server's refusal, which is these words and nothing else, as this version's (exit 1)", async () => {
    // The exact answer a server of the first version with this refusal sends on the wire: its
    // words, written here as they were, not taken from @skein/api, so that a rewording fails here.
    const words = `Feed.watch: a server stream on the server, called as a unary method: ${SKEW}`;
    const addr = await start(createRouter({ 'Feed.watch': (req) => req.fail(ErrorCode.InvalidArgument, words) }));
    const r = await skein('call', addr, 'Feed.watch', '{"n":1}');
    expect(r).toEqual({ code: 1, stdout: '', stderr: `error: InvalidArgument (rpc_invalid_argument): ${words}${HINT}` });
  });

  it("reads an even older server's bare Version (no reason sent) as a likely streaming method (exit 1)", async () => {
    const addr = await start(createRouter({ 'Feed.watch': (req) => req.fail(ErrorCode.Version) }));
    const r = await skein('call', addr, 'Feed.watch', '{"n":1}');
    expect(r).toEqual({ code: 1, stdout: '', stderr: `error: Version (rpc_invalid_ver): Feed.watch: rpc_invalid_ver${GUESS}` });
  });

  it('adds nothing to another InvalidArgument, even one that speaks of unary methods (exit 1)', async () => {
    const addr = await start(current());
    const r = await skein('call', addr, 'Feed.check', '{"n":-1}');
    expect(r).toEqual({ code: 1, stdout: '', stderr: 'error: InvalidArgument (rpc_invalid_argument): Feed.check: n: must not be negative, called as a unary method or not\n' });
  });
});
