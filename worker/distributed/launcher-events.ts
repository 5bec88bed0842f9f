/**
 * What a local worker tells its launcher besides progress: one JSON line on
 * stdout per event, next to the `--progress json` reports (pure formatting and
 * parsing; the launcher ignores lines it does not know).
 *
 * - `ringListening`: the ring port is bound, so the launcher reports the port
 *   only once it is real.
 * - `ringFailure`: the ring broke, and which rank this worker blames, so the
 *   launcher can name a rank that stopped answering instead of the survivors
 *   that reported it.
 */

/** A worker's ring port is listening. */
export interface RingListeningEvent {
  readonly ringListening: { readonly port: number };
}

/** A worker's ring failed; `peerRank` is the rank it blames, `failure` the RingError kind. */
export interface RingFailureEvent {
  readonly ringFailure: { readonly peerRank?: number; readonly failure: string; readonly reason: string };
}

export type LauncherEvent = RingListeningEvent | RingFailureEvent;

/** One line for stdout. */
export function formatLauncherEvent(e: LauncherEvent): string {
  return JSON.stringify(e);
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null;
}

/** The event in `line`, or undefined for any other line. */
export function parseLauncherEvent(line: string): LauncherEvent | undefined {
  if (!line.startsWith('{"ring')) return undefined;
  let v: unknown;
  try {
    v = JSON.parse(line);
  } catch {
    return undefined;
  }
  if (!isRecord(v)) return undefined;
  const l = v.ringListening;
  if (isRecord(l) && typeof l.port === 'number') return { ringListening: { port: l.port } };
  const f = v.ringFailure;
  if (isRecord(f) && typeof f.failure === 'string' && typeof f.reason === 'string') {
    return { ringFailure: { failure: f.failure, reason: f.reason, ...(typeof f.peerRank === 'number' ? { peerRank: f.peerRank } : {}) } };
  }
  return undefined;
}
