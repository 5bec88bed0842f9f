/**
 * How often the event loop reached its check phase while `work` ran: the
 * tests of long computations that must keep a worker responsive (ring peers,
 * /progress, signals) count these turns.
 */
export async function countEventLoopTurns<T>(work: () => Promise<T>): Promise<{ result: T; turns: number }> {
  let turns = 0;
  let running = true;
  const spin = (): void => {
    if (!running) return;
    turns++;
    setImmediate(spin);
  };
  setImmediate(spin);
  try {
    return { result: await work(), turns };
  } finally {
    running = false;
  }
}
