/**
 * Deno's refusal for want of a permission flag: `NotCapable`, which Deno 2 throws for a missing
 * --allow-net (Deno.connect, connectTls, listen, listenTls) and for a Unix socket's missing
 * --allow-read or --allow-write (checked on Deno 2.9.6, each from a process run without the flag).
 * The program's fault, not the network's: a connect rethrows it as it is. Not `PermissionDenied`:
 * on Deno 2 that is the system's EACCES (`(os error 13)`, a Unix socket this user may not open),
 * which a connect reports Unreachable, as Node and Bun report their EACCES.
 */
export function isPermissionError(err: unknown): boolean {
  return (err as Error | undefined)?.name === 'NotCapable';
}
