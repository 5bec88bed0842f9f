/**
 * {@link CompiledStep} on tfjs-node: the attack and loss-gradient graphs of
 * step-graphs.ts, saved as SavedModels in a scratch directory, loaded into
 * libtensorflow sessions, and run with the model's weights as inputs.
 *
 * Why: run eagerly, a small CNN's PGD-10 step is about 1,200 separate kernel
 * calls, and at batch 128 the per-call cost (tfjs engine, binding, TF eager
 * dispatch, thread hand-offs) is as large as the arithmetic. As one graph,
 * TF runs it without returning to JS and its optimizer fuses ops.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import type { CompiledStep, LossAndGrads, LossBranch, OptimizerUpdateArgs, OptimizerUpdateResult, SignAttackArgs } from '../../../train/compiled-step.js';
import { ruleSlotKinds } from '../../../train/optimizers/types.js';
import { ruleScalarNames, ruleScalars } from '../../../train/optimizers/update-rules.js';
import { DatError, getErrorMessage } from '../../../../common/errors.js';
import { SAVED_MODEL_TAG } from './graph-def.js';
import { buildUpdateGraph, updateNames } from './optimizer-graph.js';
import { planModel, type PlanLayer } from './sequential-plan.js';
import {
  ATTACK_GRAPH,
  batchNormNodes,
  batchStatNames,
  branchName,
  buildLossGradGraph,
  buildSignAttackGraph,
  LOSS_GRAD_GRAPH,
  statInputName,
  weightInputName,
  type GraphModel,
  type GraphOptions,
} from './step-graphs.js';

/** The parts of tfjs-node's NodeJSKernelBackend used here (it has no public types for them). */
export interface SavedModelBackend {
  loadSavedModelMetaGraph(path: string, tags: string): number;
  runSavedModel(id: number, inputs: tf.Tensor[], inputInfos: Array<{ name: string }>, outputNames: string[]): tf.Tensor[];
  deleteSavedModel(id: number): void;
  /** tfjs-node-gpu computing on a GPU. */
  readonly isUsingGpuDevice?: boolean;
}

function isSavedModelBackend(b: unknown): b is SavedModelBackend {
  const o = b as Partial<SavedModelBackend> | null;
  return typeof o?.loadSavedModelMetaGraph === 'function' && typeof o.runSavedModel === 'function' && typeof o.deleteSavedModel === 'function';
}

/** The environment variable that turns the compiled step off (read in ../../compile-step.ts). */
export const COMPILED_STEP_ENV = 'DAT_COMPILED_STEP';

/** A loaded graph with named inputs and outputs. */
class LoadedGraph {
  private readonly inputInfos: Array<{ name: string }>;
  private readonly outputNames: string[];
  private id: number | undefined;

  constructor(
    private readonly backend: SavedModelBackend,
    what: string,
    savedModel: Uint8Array,
    inputs: readonly string[],
    outputs: readonly string[],
  ) {
    this.inputInfos = inputs.map((name) => ({ name: `${name}:0` }));
    this.outputNames = outputs.map((name) => `${name}:0`);
    // TF loads the SavedModel into memory: the directory is only needed while loading.
    let dir: string | undefined;
    try {
      dir = mkdtempSync(join(tmpdir(), 'dat-graph-'));
      writeFileSync(join(dir, 'saved_model.pb'), savedModel);
      this.id = backend.loadSavedModelMetaGraph(dir, SAVED_MODEL_TAG);
    } catch (err) {
      throw new DatError(`loading the ${what} graph into libtensorflow failed (set ${COMPILED_STEP_ENV}=off to train eagerly): ${getErrorMessage(err)}`, {
        retryable: false,
        cause: err,
      });
    } finally {
      if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
    }
  }

  run(inputs: tf.Tensor[]): tf.Tensor[] {
    if (this.id === undefined) throw new DatError('compiled graph used after dispose', { retryable: false });
    return this.backend.runSavedModel(this.id, inputs, this.inputInfos, this.outputNames);
  }

  dispose(): void {
    if (this.id !== undefined) this.backend.deleteSavedModel(this.id);
    this.id = undefined;
  }
}

/**
 * Attack chains on a CPU. Measured on 2 cores (small CNN, PGD-10, batch 128):
 * the attack graph took 29.3 ms with 2 chains and 31.7 ms with 1, because TF
 * runs one chain's ops while the other's poorly parallel ops (ReLU
 * gradients, the first layer's convolutions) leave a core idle.
 */
const CPU_ATTACK_CHAINS = 2;

/** Fewest examples per attack chain: below that, a batch runs as one chain. */
const MIN_EXAMPLES_PER_CHAIN = 16;

/**
 * How the graphs are built for the device the backend computes on (pure). The
 * graphs carry no device annotations either way: tfjs-node loads them without
 * soft placement, so an annotation would fail on any op without a GPU kernel,
 * while TF's placer already puts every unannotated op that has one on the GPU.
 * On a GPU the attack is one chain (a GPU runs one chain's kernels across the
 * whole batch; splitting only adds launches) and the first-layer input gradient
 * keeps cuDNN's padding (the explicit-padding route is an Eigen CPU speed-up).
 */
export function deviceGraphOptions(usesGpu: boolean): Required<GraphOptions> {
  return usesGpu ? { eigenFewChannels: false, attackChains: 1 } : { eigenFewChannels: true, attackChains: CPU_ATTACK_CHAINS };
}

/** A compiled step, or why the model or backend cannot have one. */
export type CompiledStepResult = { readonly ok: true; readonly step: CompiledStep } | { readonly ok: false; readonly reason: string };

/**
 * Compiles `model`'s step for the current tfjs backend. Only the native
 * (`tensorflow`) backend runs graphs, and only the layers planModel knows
 * (sequential-plan.ts) are planned; otherwise the reason is returned. The loss-gradient
 * graph is loaded here, so a libtensorflow that cannot load graphs shows up
 * now (as a reason) rather than in the middle of training.
 */
export function createNativeCompiledStep(model: tf.LayersModel): CompiledStepResult {
  const backend = tf.backend();
  if (!isSavedModelBackend(backend)) return { ok: false, reason: `backend ${tf.getBackend()} does not run TensorFlow graphs` };
  const plan = planModel(model);
  if (!plan.ok) return { ok: false, reason: plan.reason };
  const step = new NativeCompiledStep(backend, model, plan);
  try {
    step.load();
  } catch (err) {
    step.dispose();
    return { ok: false, reason: getErrorMessage(err) };
  }
  return { ok: true, step };
}

/** tfjs-layers' moving average, op for op: v ← v − (v − value)·(1 − momentum). */
function movingAverage(variable: tf.LayerVariable, value: tf.Tensor, momentum: number): void {
  tf.tidy(() => {
    const decay = 1 - momentum;
    const orig = variable.read();
    variable.write(tf.sub(orig, tf.mul(tf.sub(orig, value), decay)));
  });
}

class NativeCompiledStep implements CompiledStep {
  /** Attack graphs by step count (training and evaluation use different counts) and chain count. */
  private readonly attacks = new Map<string, LoadedGraph>();
  /** Attack chains for full-size batches; see {@link GraphOptions.attackChains}. */
  private readonly attackChains: number;
  /** Loss-gradient graphs by branch count. */
  private readonly lossGrads = new Map<number, LoadedGraph>();
  /** Optimizer-update graphs by rule and variable count. */
  private readonly updates = new Map<string, LoadedGraph>();
  private disposed = false;
  private readonly weightNames: string[];
  private readonly statNames: string[];
  /** BatchNorm plan nodes; without any, branches are stacked into one batch (the same function, one graph run). */
  private readonly bnNodes: number[];
  /** See {@link deviceGraphOptions}. */
  private readonly graphOpts: GraphOptions;

  constructor(
    private readonly backend: SavedModelBackend,
    private readonly model: tf.LayersModel,
    private readonly plan: GraphModel,
  ) {
    this.weightNames = Array.from({ length: plan.numWeights }, (_, i) => weightInputName(i));
    this.statNames = Array.from({ length: plan.numNonTrainable ?? 0 }, (_, j) => statInputName(j));
    this.bnNodes = batchNormNodes(plan);
    const device = deviceGraphOptions(backend.isUsingGpuDevice === true);
    this.graphOpts = { eigenFewChannels: device.eigenFewChannels };
    this.attackChains = device.attackChains;
  }

  private checkLive(): void {
    if (this.disposed) throw new DatError(`the compiled step of model ${this.model.name} was used after dispose`, { retryable: false });
  }

  private weights(): tf.Tensor[] {
    const ws = this.model.trainableWeights;
    if (ws.length !== this.plan.numWeights) throw new DatError(`model ${this.model.name} now has ${ws.length} trainable weights, the compiled step ${this.plan.numWeights}`, { retryable: false });
    return ws.map((w) => w.read());
  }

  private stats(): tf.Tensor[] {
    const ss = this.model.nonTrainableWeights;
    if (ss.length !== this.statNames.length) throw new DatError(`model ${this.model.name} now has ${ss.length} non-trainable weights, the compiled step ${this.statNames.length}`, { retryable: false });
    return ss.map((s) => s.read());
  }

  signAttack(a: SignAttackArgs): tf.Tensor4D {
    this.checkLive();
    // Chains only for batches that give each one enough examples (an empty chain is not a valid conv input).
    const n = a.x.shape[0];
    const chains = n >= MIN_EXAMPLES_PER_CHAIN * this.attackChains ? this.attackChains : 1;
    const key = `${a.steps}/${chains}`;
    let graph = this.attacks.get(key);
    if (graph === undefined) {
      const inputs = [ATTACK_GRAPH.x, ATTACK_GRAPH.y, ATTACK_GRAPH.start, ATTACK_GRAPH.eps, ATTACK_GRAPH.stepSize, ...this.weightNames, ...this.statNames];
      const what = `${a.steps}-step attack${chains > 1 ? ` (${chains} chains)` : ''}`;
      graph = new LoadedGraph(this.backend, what, buildSignAttackGraph(this.plan, a.steps, { ...this.graphOpts, attackChains: chains }), inputs, [ATTACK_GRAPH.output]);
      this.attacks.set(key, graph);
    }
    const g = graph;
    return tf.tidy(() => g.run([a.x, a.y, a.start, tf.scalar(a.eps), tf.scalar(a.stepSize), ...this.weights(), ...this.stats()])[0] as tf.Tensor4D);
  }

  /** Loads the `branches`-branch loss-gradient graph (the 1-branch one at creation; attack graphs load on first use, one per step count). */
  load(branches = 1): LoadedGraph {
    this.checkLive();
    let graph = this.lossGrads.get(branches);
    if (graph === undefined) {
      const inputs = [
        ...Array.from({ length: branches }, (_, b) => [LOSS_GRAD_GRAPH.x, LOSS_GRAD_GRAPH.y, LOSS_GRAD_GRAPH.exampleWeight].map((name) => branchName(name, b))).flat(),
        ...this.weightNames,
      ];
      const statOutputs = Array.from({ length: branches }, (_, b) => this.bnNodes.flatMap((node) => Object.values(batchStatNames(b, node)))).flat();
      const outputs = [LOSS_GRAD_GRAPH.loss, ...this.weightNames.map((_, i) => `${LOSS_GRAD_GRAPH.gradPrefix}${i}`), ...statOutputs];
      const what = branches === 1 ? 'loss-gradient' : `${branches}-branch loss-gradient`;
      graph = new LoadedGraph(this.backend, what, buildLossGradGraph(this.plan, this.graphOpts, branches), inputs, outputs);
      this.lossGrads.set(branches, graph);
    }
    return graph;
  }

  weightedCrossEntropyGrads(branches: readonly LossBranch[]): LossAndGrads {
    this.checkLive();
    if (branches.length === 0) throw new DatError('weightedCrossEntropyGrads needs at least one branch', { retryable: false });
    let run = branches;
    if (this.bnNodes.length === 0 && branches.length > 1) {
      // No batch statistics: stacking the branches computes the same loss and gradients in one pass.
      run = [
        {
          x: tf.concat(branches.map((b) => b.x)),
          y: tf.concat(branches.map((b) => b.y)),
          weight: tf.concat(branches.map((b) => b.weight)),
        },
      ];
    }
    const outputs = this.load(run.length).run([...run.flatMap((b) => [b.x, b.y, b.weight]), ...this.weights()]);
    if (run !== branches) tf.dispose(run.flatMap((b) => [b.x, b.y, b.weight]));
    const [loss, ...rest] = outputs;
    const grads = rest.slice(0, this.plan.numWeights);
    const batchStats = rest.slice(this.plan.numWeights);
    try {
      // The eager step's order: branch by branch, each BatchNorm's mean then variance.
      const stats = this.model.nonTrainableWeights;
      let k = 0;
      for (let b = 0; b < run.length; b++) {
        for (const node of this.bnNodes) {
          const layer = this.plan.layers[node] as Extract<PlanLayer, { kind: 'batchnorm' }>;
          movingAverage(stats[layer.movingMean]!, batchStats[k++]!, layer.momentum);
          movingAverage(stats[layer.movingVariance]!, batchStats[k++]!, layer.momentum);
        }
      }
    } finally {
      tf.dispose(batchStats);
    }
    return { loss: loss as tf.Scalar, grads };
  }

  optimizerUpdate(a: OptimizerUpdateArgs): OptimizerUpdateResult {
    this.checkLive();
    const n = a.vars.length;
    const kinds = ruleSlotKinds(a.rule);
    if (a.grads.length !== n || a.slots.length !== kinds.length || a.slots.some((s) => s.length !== n)) {
      throw new DatError(`optimizer update: ${n} variables, ${a.grads.length} gradients and ${a.slots.length} slot kinds (${kinds.length} expected)`, { retryable: false });
    }
    const key = `${JSON.stringify(a.rule)}/${n}`;
    let graph = this.updates.get(key);
    if (graph === undefined) {
      const perVar = (i: number): string[] => [updateNames.weight(i), updateNames.grad(i), ...kinds.map((k) => updateNames.slot(k, i))];
      const inputs = [...ruleScalarNames(a.rule), ...Array.from({ length: n }, (_, i) => perVar(i)).flat()];
      const outputs = [...Array.from({ length: n }, (_, i) => updateNames.newWeight(i)), ...kinds.flatMap((k) => Array.from({ length: n }, (_, i) => updateNames.newSlot(k, i)))];
      graph = new LoadedGraph(this.backend, `${a.rule.kind} update`, buildUpdateGraph(a.rule, n), inputs, outputs);
      this.updates.set(key, graph);
    }
    const g = graph;
    const outs = tf.tidy(() => {
      // The same float32 scalars as the eager update (computed in double, then rounded).
      const scalars = ruleScalars(a.rule, a.step, a.lr);
      const feed = [...ruleScalarNames(a.rule).map((name) => tf.scalar(scalars[name]!)), ...a.vars.flatMap((w, i) => [w, a.grads[i]!, ...a.slots.map((s) => s[i]!)])];
      return g.run(feed);
    });
    return { vars: outs.slice(0, n), slots: kinds.map((_, k) => outs.slice(n * (k + 1), n * (k + 2))) };
  }

  dispose(): void {
    this.disposed = true;
    for (const g of this.updates.values()) g.dispose();
    this.updates.clear();
    for (const g of this.attacks.values()) g.dispose();
    this.attacks.clear();
    for (const g of this.lossGrads.values()) g.dispose();
    this.lossGrads.clear();
  }
}
