import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { ResolvedTls } from '@skein/core';

/** uWebSockets.js's SSLApp options: it reads certificates from files only. */
export interface UwsSslOptions {
  cert_file_name: string;
  key_file_name: string;
}

/**
 * Runs `use` with the certificate and key written to files readable only by this
 * user, in a fresh temp directory removed as soon as `use` returns (uWS reads them at once).
 */
export async function withPemFiles<T>(s: ResolvedTls, use: (files: UwsSslOptions) => T): Promise<T> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'skein-uws-tls-'));
  try {
    const put = async (name: string, text: string): Promise<string> => {
      const file = path.join(dir, name);
      await writeFile(file, text, { mode: 0o600 });
      return file;
    };
    const files: UwsSslOptions = { cert_file_name: await put('cert.pem', s.cert!), key_file_name: await put('key.pem', s.key!) };
    return use(files);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
