/**
 * Gradient-sized buffers a hook reuses from one step to the next.
 *
 * Why: a fresh Float32Array of tens of MiB is mapped fresh by the allocator,
 * so its first write page-faults page by page. Measured here, decoding a
 * 64 MiB sign-ef all-gather into a fresh array took 62 ms against 6 ms into a
 * reused one, and the freed arrays drive V8's "external memory pressure"
 * mark-compacts. So hooks return a buffer of their own: the result of a call
 * is valid until the same hook's next call for the same bucket index.
 */
export class BucketScratch {
  private readonly buffers = new Map<string, Float32Array>();

  /**
   * The buffer for (`name`, bucket `index`) with `length` values, reallocated
   * only when the length changes. Its contents are what the last call left,
   * unless `zeroed`.
   */
  take(name: string, index: number, length: number, zeroed = false): Float32Array {
    const key = `${name}/${index}`;
    let buf = this.buffers.get(key);
    if (buf === undefined || buf.length !== length) {
      buf = new Float32Array(length);
      this.buffers.set(key, buf);
    } else if (zeroed) buf.fill(0);
    return buf;
  }
}
