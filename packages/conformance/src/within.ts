/**
 * `work` within `boundMs`, else 'timeout': a check's wait for what a transport reports, bounded
 * only so that one that never reports fails naming it instead of hanging. Timing decides nothing.
 */
export async function within<T>(work: Promise<T>, boundMs: number): Promise<T | 'timeout'> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<'timeout'>((resolve) => (timer = setTimeout(() => resolve('timeout'), boundMs)));
  try {
    return await Promise.race([work, late]);
  } finally {
    clearTimeout(timer);
  }
}
