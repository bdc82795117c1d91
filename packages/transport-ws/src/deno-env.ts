import { ErrorCode, RpcError } from '@skein/core';

/**
 * Loads a module that brings in `ws`. On Deno ws reads two environment variables as it loads,
 * which Deno refuses without `--allow-env` (its NotCapable, no code: unhandled, it ends the
 * process): said as Skein's InvalidArgument naming the flag, for the client and the server alike.
 * `side` says which half needs it and `otherwise` what else would do.
 */
export async function loadingWs<T>(load: () => Promise<T>, side: 'client' | 'server', otherwise = ''): Promise<T> {
  try {
    return await load();
  } catch (err) {
    if ((err as Error | undefined)?.name !== 'NotCapable') throw err;
    throw new RpcError(
      ErrorCode.InvalidArgument,
      `wsTransport's ${side} on Deno is ws, which reads WS_NO_BUFFER_UTIL and WS_NO_UTF_8_VALIDATE as it loads: run with --allow-env=WS_NO_BUFFER_UTIL,WS_NO_UTF_8_VALIDATE (or --allow-env)${otherwise} (${(err as Error).message})`,
      { cause: err },
    );
  }
}
