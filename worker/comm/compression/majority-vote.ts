/**
 * `majority-vote`: signSGD with majority vote (Bernstein et al. 2019,
 * "signSGD with Majority Vote is Communication Efficient and Fault Tolerant",
 * ICLR; the `SignSGDwithMajorityVoteReducer` of github.com/epfml/powersgd).
 *
 * 1. Each rank packs sgn(g) (1 bit per value, sgn(0) = +1) behind its scale ‖g‖₁/d.
 * 2. All-gather of the packed blocks.
 * 3. Every rank computes vote = Σᵢ sgnᵢ and returns mean(scaleᵢ)·sign(vote)
 *    (0 on a tie, possible for even N). The scale only gives the update a
 *    gradient-like magnitude; LAMB/LARS trust ratios make it irrelevant.
 * No error feedback (it is a vote, not an estimate).
 */
import { BucketScratch } from '../bucket-scratch.js';
import type { CommState, GradBucket } from '../hooks.js';
import { decodeScaledSigns, encodeScaledSigns, signAt } from './bit-pack.js';
import { l1Scale } from './sign-ef.js';

export class MajorityVoteHook {
  private readonly scratch = new BucketScratch();
  private voteCounts = new Int32Array(0);

  readonly hook = async (state: CommState, bucket: GradBucket): Promise<Float32Array> => {
    const c = state.collective;
    const d = bucket.buffer.length;
    const all = await c.allgather(encodeScaledSigns(l1Scale(bucket.buffer), bucket.buffer), { timeoutMs: state.timeoutMs });
    const votes = this.votes(d);
    let scale = 0;
    for (const block of all) {
      const { scale: s, bits } = decodeScaledSigns(block, d);
      scale += s / c.worldSize;
      for (let i = 0; i < d; i++) votes[i] += signAt(bits, i);
    }
    const out = this.scratch.take('mean', bucket.index, d);
    for (let i = 0; i < d; i++) out[i] = votes[i]! > 0 ? scale : votes[i]! < 0 ? -scale : 0;
    return out;
  };

  /** Zeroed vote counters for `d` values (reused: see bucket-scratch.ts). */
  private votes(d: number): Int32Array {
    if (this.voteCounts.length !== d) this.voteCounts = new Int32Array(d);
    else this.voteCounts.fill(0);
    return this.voteCounts;
  }
}
