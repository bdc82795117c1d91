import { ErrorCode } from '@skein/core';
import { Etcd3 } from 'etcd3';
import { beforeAll, describe, expect, it } from 'vitest';
import { readEntries } from '../src/index.js';
import { etcdForFile } from './harness.js';

// readEntries against an etcd with auth on: a refusal is typed as one (Unauthenticated,
// PermissionDenied), not as an etcd out of reach (Unreachable), which a caller would wait out.

const file = etcdForFile();
const { cleanup } = file;

beforeAll(async () => {
  const plain = new Etcd3({ hosts: file.etcd.endpoints });
  try {
    await plain.user('root').create('rootpw');
    await plain.user('root').addRole('root');
    // `reader` may read elsewhere only: a user etcd knows, refused this prefix.
    await (await plain.role('reader').create()).grant({ permission: 'Read', range: plain.range({ prefix: 'other/' }) });
    await plain.user('reader').create('readerpw');
    await plain.user('reader').addRole('reader');
    await plain.auth.authEnable();
  } finally {
    plain.close();
  }
}, 60_000);

describe('readEntries with etcd auth on', () => {
  it('rejects with Unauthenticated naming the hosts when it sends no user', async () => {
    await expect(readEntries({ hosts: file.etcd.endpoints, timeoutMs: 5000 })).rejects.toMatchObject({
      code: ErrorCode.Unauthenticated,
      message: expect.stringMatching(/^etcd at http:\/\/127\.0\.0\.1:\d+ wants a user to read skein\/servers\/ \(its auth is on\): .*user name is empty/),
    });
  });

  it('rejects with PermissionDenied naming the given client\'s members when its user may not read the prefix', async () => {
    const reader = new Etcd3({ hosts: file.etcd.endpoints, auth: { username: 'reader', password: 'readerpw' } });
    cleanup.push(() => reader.close());
    // The members as etcd3 keeps them, without the scheme (see endpointsOf).
    const members = file.etcd.endpoints.map((e) => e.replace(/^http:\/\//, '')).join(', ');
    await expect(readEntries({ client: reader, timeoutMs: 5000 })).rejects.toMatchObject({
      code: ErrorCode.PermissionDenied,
      message: expect.stringMatching(new RegExp(`^etcd at ${members.replace(/\./g, '\\.')} refused a read of skein/servers/: .*permission denied`)),
    });
  });
});
