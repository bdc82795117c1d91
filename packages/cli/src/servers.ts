import { ErrorCode, RpcError } from '@skein/core';
import { DEFAULT_PREFIX, readEntries } from '@skein/discovery-etcd';
import type { DiscoveryEntry } from '@skein/stream';
import type { Command } from './args.js';
import type { Output } from './progress-line.js';
import { terminalJson, terminalLine } from './terminal-text.js';
import { answersTls } from './tls-probe.js';

/**
 * `skein servers --etcd URL`: the servers registered in etcd by @skein/discovery-etcd, read once
 * (one revision), as a table or a JSON array. Keys under the prefix that are no entry are named
 * on stderr and left out. Anyone who may write to etcd chose these strings: printed escaped.
 */
export async function servers(cmd: Command, out: Output, err: Output): Promise<number> {
  const started = performance.now();
  const read = await readEntries({ hosts: cmd.etcd, prefix: cmd.prefix, type: cmd.type, timeoutMs: cmd.timeoutMs }).catch(async (e: unknown) => {
    throw await withTlsHint(e, cmd, cmd.timeoutMs - (performance.now() - started));
  });
  for (const s of read.skipped) err.write(`skipped ${terminalLine(s.key)}: ${terminalLine(s.why)}\n`);
  if (cmd.asJson) {
    out.write(`${terminalJson(JSON.stringify(read.entries.map(({ type, id, address, weight, meta }) => ({ type, id, address, weight, meta }))))}\n`);
  } else if (read.entries.length > 0) {
    out.write(table(read.entries));
  }
  if (read.entries.length === 0) {
    const where = `${cmd.prefix?.replace(/\/+$/, '') ?? DEFAULT_PREFIX}/${cmd.type === undefined ? '' : `${cmd.type}/`}`;
    err.write(`no servers registered under ${terminalLine(where)} (etcd revision ${read.revision})\n`);
  }
  return 0;
}

/**
 * An Unreachable etcd that answers a TLS handshake is a TLS etcd given as http:// (gRPC's own
 * error for it says only "Failed to connect"): the error says so. Asked of each member in what
 * is left of --timeout; none answering, or none left, the error is as it was.
 */
async function withTlsHint(err: unknown, cmd: Command, leftMs: number): Promise<unknown> {
  if (!(err instanceof RpcError) || err.code !== ErrorCode.Unreachable || leftMs < 1) return err;
  const answers = await Promise.all(cmd.etcd.map((url) => answersTls(new URL(url).hostname.replace(/^\[|\]$/g, ''), Number(new URL(url).port), leftMs)));
  const tlsOnes = cmd.etcd.filter((_, i) => answers[i]);
  if (tlsOnes.length === 0) return err;
  const hint = `${tlsOnes.join(', ')} answered a TLS handshake: did the server expect TLS? skein servers reads plain http:// etcd only; read a TLS etcd with etcdctl --endpoints https://...`;
  return new RpcError(err.code, `${err.message} (${hint})`, { cause: err, retry: err.retry });
}

const HEADINGS = ['TYPE', 'ID', 'ADDRESS', 'WEIGHT', 'META'] as const;

/** One row per server, columns padded to their widest cell; meta as `k=v,k=v`. */
function table(entries: readonly DiscoveryEntry[]): string {
  const rows = entries.map((e) =>
    [e.type, e.id, e.address, String(e.weight), Object.entries(e.meta).map(([k, v]) => `${k}=${v}`).join(',')].map(terminalLine),
  );
  const all = [[...HEADINGS], ...rows];
  const widths = HEADINGS.map((_, i) => Math.max(...all.map((r) => r[i]!.length)));
  return all.map((r) => r.map((cell, i) => (i === r.length - 1 ? cell : cell.padEnd(widths[i]!))).join('  ').trimEnd() + '\n').join('');
}
