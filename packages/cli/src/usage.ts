import { USAGE_LINES } from './args.js';

/** `skein --help`. */
export const USAGE = `skein: talk to any Skein server

${USAGE_LINES.map((line) => `  ${line}`).join('\n')}

ADDR: host:port, tcp://host:port, unix:/path (or /path), ws://host[:port][/path], ws+unix:/path,
      tls://host:port, tls+unix:/path, wss://host[:port][/path] (ws:// port 80, wss:// 443)
      (TLS: --ca FILE, --cert FILE --key FILE, --servername NAME)
Service.method splits at the last dot: skein.health.Health.check is check of skein.health.Health.
The argument is JSON, encoded with the codec (default msgpack); without one, none is sent.
call prints the reply as JSON, or the error (exit 1). bench sends one probe call, then keeps
N calls in flight for S seconds (default 16, 5) and prints calls/s and p50/p90/p99 latency.
health asks the server's health service (@skein/api's Health) for SERVICE's status (none: the
whole server) and prints serving, not-serving or unknown; --watch prints each change until the
server ends the watch (it closes), and exits with the last one's code.
servers lists what @skein/discovery-etcd registered under P (default skein/servers): type,
id, address, weight and meta of each server, or a JSON array with --json.
--timeout MS (default 10000) bounds connecting, the hello and the first answer together
(servers: the whole etcd read).
Exit codes: 0 done, 1 the call or connection failed, 2 a mistake on the command line;
health: 0 serving, 3 not serving, 4 unknown service, 1 no answer (unreachable, no health service).
`;
