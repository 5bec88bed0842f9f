/**
 * Where a run's wall time goes: each training step split into attack,
 * gradient, all-reduce and update, plus held-out evaluation. The loop
 * accumulates it; metrics.json carries the totals and `dat train`'s final
 * table shows each as a share of wall time.
 */

/** Wall time of one training step's parts, in seconds. */
export interface StepTiming {
  /** Crafting the adversarial batch (zero without an attack). */
  readonly attackSeconds: number;
  /** Loss and weight gradients on the (adversarial) batch, read back to the host. */
  readonly gradientSeconds: number;
  /** Ring all-reduce of the flat gradient, waiting for slower ranks included (the identity in one process). */
  readonly allreduceSeconds: number;
  /** Optimizer update. */
  readonly updateSeconds: number;
}

/** The parts of {@link StepTiming}, in step order, keyed as in metrics and tables. */
export const STEP_PHASES = ['attack', 'gradient', 'allreduce', 'update'] as const;
/** One of {@link STEP_PHASES}. */
export type StepPhase = (typeof STEP_PHASES)[number];

/** Seconds of `phase` in `t`. */
export function phaseSeconds(t: StepTiming, phase: StepPhase): number {
  switch (phase) {
    case 'attack':
      return t.attackSeconds;
    case 'gradient':
      return t.gradientSeconds;
    case 'allreduce':
      return t.allreduceSeconds;
    case 'update':
      return t.updateSeconds;
  }
}

/** Seconds spent per part over a whole run (this process), as stored in metrics.json. */
export interface TimeSplit {
  readonly attackSeconds: number;
  readonly gradientSeconds: number;
  readonly allreduceSeconds: number;
  readonly updateSeconds: number;
  /** Held-out evaluation and the overfitting guard's probe. */
  readonly evaluationSeconds: number;
}

/** A running {@link TimeSplit}. */
export interface TimeSplitAccumulator {
  addStep(t: StepTiming): void;
  addEvaluation(seconds: number): void;
  snapshot(): TimeSplit;
}

/** An accumulator starting at zero. */
export function createTimeSplit(): TimeSplitAccumulator {
  const s = { attackSeconds: 0, gradientSeconds: 0, allreduceSeconds: 0, updateSeconds: 0, evaluationSeconds: 0 };
  return {
    addStep: (t) => {
      s.attackSeconds += t.attackSeconds;
      s.gradientSeconds += t.gradientSeconds;
      s.allreduceSeconds += t.allreduceSeconds;
      s.updateSeconds += t.updateSeconds;
    },
    addEvaluation: (seconds) => {
      s.evaluationSeconds += seconds;
    },
    snapshot: () => ({ ...s }),
  };
}
