/**
 * Quantiles of a Prometheus histogram read from a text exposition, computed
 * the way PromQL's `histogram_quantile` does: find the bucket holding the
 * rank, then interpolate linearly inside it (the lowest bucket starts at 0;
 * a rank in the +Inf bucket returns the highest finite bound).
 */

/** Cumulative buckets `[upper bound, count]`, ascending, +Inf last. */
export type Buckets = ReadonlyArray<readonly [number, number]>;

/** The `<name>_bucket` series of an unlabelled histogram in `text`; undefined when absent. */
export function parseHistogram(text: string, name: string): Buckets | undefined {
  const out: Array<[number, number]> = [];
  const re = new RegExp(`^${name}_bucket\\{le="([^"]+)"\\} (\\S+)$`);
  for (const line of text.split('\n')) {
    const m = re.exec(line);
    if (m) out.push([m[1] === '+Inf' ? Infinity : Number(m[1]), Number(m[2])]);
  }
  return out.length === 0 ? undefined : out.sort((a, b) => a[0] - b[0]);
}

/** The q-quantile (0..1) of `buckets`; undefined without observations. */
export function histogramQuantile(q: number, buckets: Buckets): number | undefined {
  const total = buckets[buckets.length - 1]?.[1] ?? 0;
  if (total === 0) return undefined;
  const rank = q * total;
  let prevBound = 0;
  let prevCount = 0;
  for (const [bound, count] of buckets) {
    if (count >= rank) {
      if (bound === Infinity) return prevBound;
      if (count === prevCount) return bound;
      return prevBound + ((bound - prevBound) * (rank - prevCount)) / (count - prevCount);
    }
    prevBound = bound;
    prevCount = count;
  }
  return prevBound;
}

/** Observation count of a histogram (`+Inf` bucket). */
export function histogramCount(buckets: Buckets): number {
  return buckets[buckets.length - 1]?.[1] ?? 0;
}
