import { ErrorCode, RpcError } from '@skein/core';
import { parseArgs, type Command } from './args.js';
import { bench } from './bench.js';
import { call } from './call.js';
import { codecNamed } from './codecs.js';
import { ping } from './ping.js';
import type { Output } from './progress-line.js';
import { health } from './health.js';
import { describeError } from './render.js';
import { parseArgument, parseMethod } from './session.js';
import { parseTarget } from './target.js';
import { USAGE } from './usage.js';

/** 0 done, 1 the call or the connection failed, 2 a mistake on the command line (health adds 3 and 4: HealthExit). */
const Exit = { Ok: 0, Failed: 1, Usage: 2 } as const;

/**
 * Runs one command line and resolves with the exit code. Everything the command line itself
 * can get wrong (address, codec, method name, JSON, options) is found before connecting.
 */
export async function main(argv: readonly string[], out: Output, err: Output, version = ''): Promise<number> {
  let command: Command;
  let run: () => Promise<number>;
  try {
    const parsed = parseArgs(argv);
    if ('help' in parsed) return out.write(USAGE), Exit.Ok;
    if ('version' in parsed) return out.write(`${version}\n`), Exit.Ok;
    command = parsed.command;
    run = prepare(command, out, err);
  } catch (e) {
    err.write(`skein: ${e instanceof Error ? e.message : String(e)}\n(skein --help for usage)\n`);
    return Exit.Usage;
  }
  try {
    return await run();
  } catch (e) {
    // Connecting failed (the commands answer their own call errors).
    err.write(`error: ${describeError(e)}\n`);
    return e instanceof RpcError && e.code === ErrorCode.InvalidArgument ? Exit.Usage : Exit.Failed;
  }
}

function prepare(cmd: Command, out: Output, err: Output): () => Promise<number> {
  // Loaded for this command only: the etcd client (gRPC) would add to every other command's start.
  if (cmd.name === 'servers') return async () => (await import('./servers.js')).servers(cmd, out, err);
  const target = parseTarget(cmd.addr, cmd.tls, cmd.timeoutMs);
  if (cmd.name === 'ping') return () => ping(cmd, target, out, err);
  const codec = codecNamed(cmd.codec);
  if (cmd.name === 'health') return () => health(cmd, target, codec, out, err);
  parseMethod(cmd.method);
  const arg = parseArgument(cmd.json);
  if (cmd.name === 'call') return () => call(cmd, target, codec, arg, out, err);
  return () => bench(cmd, target, codec, arg, out, err);
}
