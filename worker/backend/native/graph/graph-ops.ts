/**
 * The graph lowering of {@link NumOps}: each op adds one TensorFlow node (the
 * op tfjs-node's eager kernel for the same call runs) to a GraphBuilder and
 * returns its name, so a rule written against NumOps emits the graph of what
 * the eager lowering computes, op for op. Values are float32.
 */
import type { NumOps } from '../../../train/numerics/num-ops.js';
import type { GraphBuilder } from './graph-def.js';

const F32 = { type: 'float32' } as const;

/** {@link NumOps} on the nodes of `g`. */
export class GraphOps implements NumOps<string> {
  constructor(private readonly g: GraphBuilder) {}

  private bin(op: string, a: string, b: string): string {
    return this.g.add(op, [a, b], { T: F32 });
  }

  private un(op: string, a: string): string {
    return this.g.add(op, [a], { T: F32 });
  }

  scalar(v: number): string {
    return this.g.scalar(v);
  }
  add(a: string, b: string): string {
    return this.bin('AddV2', a, b);
  }
  sub(a: string, b: string): string {
    return this.bin('Sub', a, b);
  }
  mul(a: string, b: string): string {
    return this.bin('Mul', a, b);
  }
  div(a: string, b: string): string {
    return this.bin('RealDiv', a, b);
  }
  maximum(a: string, b: string): string {
    return this.bin('Maximum', a, b);
  }
  minimum(a: string, b: string): string {
    return this.bin('Minimum', a, b);
  }
  square(a: string): string {
    return this.un('Square', a);
  }
  sqrt(a: string): string {
    return this.un('Sqrt', a);
  }
  sign(a: string): string {
    return this.un('Sign', a);
  }
  onesLike(a: string): string {
    return this.un('OnesLike', a);
  }
  clip(a: string, lo: number, hi: number): string {
    return this.g.add('ClipByValue', [a, this.scalar(lo), this.scalar(hi)], { T: F32 });
  }
  /** sqrt(sum(square(a))) over every element (flattened first, as tfjs's full reduction does). */
  l2Norm(a: string): string {
    const flat = this.g.add('Reshape', [this.square(a), this.g.int32s([-1])], { T: F32, Tshape: { type: 'int32' } });
    return this.sqrt(this.g.add('Sum', [flat, this.g.int32s([0])], { T: F32, Tidx: { type: 'int32' }, keep_dims: { b: false } }));
  }
  greater(a: string, b: string): string {
    return this.bin('Greater', a, b);
  }
  logicalAnd(a: string, b: string): string {
    return this.g.add('LogicalAnd', [a, b]);
  }
  where(cond: string, a: string, b: string): string {
    return this.g.add('SelectV2', [cond, a, b], { T: F32 });
  }
}
