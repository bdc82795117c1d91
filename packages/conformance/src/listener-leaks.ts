/** Node's warning for an emitter that holds more than its cap (10) of one event's listeners. */
const LEAK_WARNING = 'MaxListenersExceededWarning';

/**
 * Collects the process's MaxListenersExceededWarning messages from now until `stop()`: a
 * transport that adds a listener per write, per call or per frame (on its socket, its port, an
 * AbortSignal) and never removes it grows with the traffic, and Node names the emitter and the
 * event once it holds more than 10. The suite's calls make thousands, so such a leak shows.
 */
export function watchListenerLeaks(): { warnings: string[]; stop(): void } {
  const warnings: string[] = [];
  // Once per message: Node warns for each emitter, and a leak on every connection would repeat it.
  const onWarning = (w: Error): void => void (w.name === LEAK_WARNING && !warnings.includes(w.message) && warnings.push(w.message));
  process.on('warning', onWarning);
  return { warnings, stop: () => void process.off('warning', onWarning) };
}
