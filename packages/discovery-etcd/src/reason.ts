/** An error's message for a log line or a status reason (etcd3 and grpc errors are plain Errors). */
export function reason(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
