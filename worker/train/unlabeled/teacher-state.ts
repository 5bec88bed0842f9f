/**
 * The teacher of robust self-training as run state: its weights and the
 * pool's pseudo-labels. Empty until the teacher is trained or restored from
 * a checkpoint (state/teacher-part.ts), so a resumed run never trains it again.
 */
import { ConfigError } from '../../../common/errors.js';
import type { Split } from '../../data/types.js';

/** Where the teacher's labels came from, for logs and tests. */
export const TEACHER_ORIGINS = { trained: 'trained', checkpoint: 'checkpoint' } as const;
export type TeacherOrigin = (typeof TEACHER_ORIGINS)[keyof typeof TEACHER_ORIGINS];

/** What the teacher produced. */
export interface TeacherSnapshot {
  readonly labels: Int32Array;
  readonly weights: Float32Array;
}

/** The teacher's state for one run (see the module comment). */
export class TeacherState {
  private snap: TeacherSnapshot | undefined;
  private from: TeacherOrigin | undefined;
  private labelled: Split | undefined;

  /** The pool whose images the labels belong to. */
  constructor(readonly pool: Split) {}

  /** Whether labels are present (trained or restored). */
  get ready(): boolean {
    return this.snap !== undefined;
  }

  get origin(): TeacherOrigin | undefined {
    return this.from;
  }

  snapshot(): TeacherSnapshot | undefined {
    return this.snap;
  }

  /** Sets the labels and weights; refuses labels that do not fit the pool. */
  set(snap: TeacherSnapshot, origin: TeacherOrigin): void {
    if (snap.labels.length !== this.pool.n) {
      throw new ConfigError(`--unlabeled-data: the teacher's ${snap.labels.length} pseudo-labels (${origin}) do not match the ${this.pool.n} unlabelled images; the source changed since the checkpoint was written`);
    }
    for (let i = 0; i < snap.labels.length; i++) {
      if (!(snap.labels[i]! >= 0)) throw new ConfigError(`pseudo-label ${snap.labels[i]} at index ${i} is not a class index`);
    }
    this.snap = snap;
    this.from = origin;
    this.labelled = undefined;
  }

  /** The pool with its pseudo-labels (images shared, not copied). */
  pseudoLabeled(): Split {
    if (this.snap === undefined) throw new RangeError('the teacher has not labelled the pool yet');
    this.labelled ??= { n: this.pool.n, x: this.pool.x, y: this.snap.labels };
    return this.labelled;
  }
}
