/**
 * Lets the event loop run its I/O phase once. The training step is synchronous
 * TensorFlow work chained by promises that resolve at once (microtasks), so
 * without this a single-process or single-rank run never reaches the I/O phase
 * between steps: SIGTERM handlers, the /progress and /metrics servers and
 * timers would wait for the epoch (or the run) to end. A macrotask per step
 * costs microseconds.
 */
export function yieldToEventLoop(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}
