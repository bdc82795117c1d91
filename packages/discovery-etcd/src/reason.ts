/** An error's message for a log line or a status reason (etcd3 and grpc errors are plain Errors). */
export function reason(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** etcd refused a read at a revision it has compacted away. */
export function compacted(err: unknown): boolean {
  return reason(err).includes('required revision has been compacted');
}

/** gRPC's message without the empty "Resolution note:" it ends some with. */
export const grpcReason = (err: unknown): string => reason(err).replace(/\.?\s*Resolution note:\s*$/, '');
