/**
 * A bound on how long a finished `dat` process may linger. Sockets can outlive
 * every close(): Node ends a socket only after its pending writes flush, and a
 * frozen peer (SIGSTOP, a hung node) never reads them. A finished run must
 * exit anyway.
 */

/** Grace between the end of the CLI and a forced exit. */
export const EXIT_GRACE_MS = 5_000;

/**
 * Exits `graceMs` from now if something still holds the event loop; the timer
 * is unref'd, so a process that winds down normally exits at once. `onForced`
 * gets the kinds of resources that were still open.
 */
export function exitWithin(graceMs: number, onForced: (open: readonly string[]) => void): void {
  const timer = setTimeout(() => {
    onForced(process.getActiveResourcesInfo());
    process.exit();
  }, graceMs);
  timer.unref();
}
