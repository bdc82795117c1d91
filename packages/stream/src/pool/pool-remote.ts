/** How many servers a pool's `remote` names before it only counts the rest. */
const NAMED = 3;

/**
 * What a FailoverPool's log line says for `remote` when a call was settled before any server was
 * tried (refused while the pool closes, a bad option, no server to pick): the pool, by its
 * servers, rather than an empty string that names nothing. A few named, the rest counted, so
 * that a pool of hundreds does not write them all into every line, each by its `shown` name (no
 * token: `PoolServer.shown`). `servers` is read for the
 * first few alone: every call a closing pool refuses names it, so it costs the same at any size.
 */
export function poolRemote(servers: Iterable<{ readonly shown: string }>, count: number): string {
  if (count === 0) return 'failover pool of no servers';
  const named: string[] = [];
  for (const s of servers) if (named.push(s.shown) === NAMED) break;
  const more = count - named.length;
  return `failover pool of ${named.join(', ')}${more > 0 ? ` and ${more} more` : ''}`;
}
