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
import type { CompiledStep, LossAndGrads, SignAttackArgs } from '../../../train/compiled-step.js';
import { DatError, getErrorMessage } from '../../../util/errors.js';
import { SAVED_MODEL_TAG } from './graph-def.js';
import { planSequentialModel } from './sequential-plan.js';
import { ATTACK_GRAPH, buildLossGradGraph, buildSignAttackGraph, LOSS_GRAD_GRAPH, weightInputName, type GraphModel, type GraphOptions } from './step-graphs.js';

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

/** A compiled step, or why the model or backend cannot have one. */
export type CompiledStepResult = { readonly ok: true; readonly step: CompiledStep } | { readonly ok: false; readonly reason: string };

/**
 * Compiles `model`'s step for the current tfjs backend. Only the native
 * (`tensorflow`) backend runs graphs, and only plain Conv2D/MaxPool/Dense
 * stacks are planned; otherwise the reason is returned. The loss-gradient
 * graph is loaded here, so a libtensorflow that cannot load graphs shows up
 * now (as a reason) rather than in the middle of training.
 */
export function createNativeCompiledStep(model: tf.LayersModel): CompiledStepResult {
  const backend = tf.backend();
  if (!isSavedModelBackend(backend)) return { ok: false, reason: `backend ${tf.getBackend()} does not run TensorFlow graphs` };
  const plan = planSequentialModel(model);
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

class NativeCompiledStep implements CompiledStep {
  /** Attack graphs by step count (training and evaluation use different counts). */
  private readonly attacks = new Map<number, LoadedGraph>();
  private lossGrad: LoadedGraph | undefined;
  private disposed = false;
  private readonly weightNames: string[];
  // Eigen's few-channel input gradient is a CPU workaround; cuDNN needs none.
  private readonly graphOpts: GraphOptions;

  constructor(
    private readonly backend: SavedModelBackend,
    private readonly model: tf.LayersModel,
    private readonly plan: GraphModel,
  ) {
    this.weightNames = Array.from({ length: plan.numWeights }, (_, i) => weightInputName(i));
    this.graphOpts = { eigenFewChannels: backend.isUsingGpuDevice !== true };
  }

  private checkLive(): void {
    if (this.disposed) throw new DatError(`the compiled step of model ${this.model.name} was used after dispose`, { retryable: false });
  }

  private weights(): tf.Tensor[] {
    const ws = this.model.trainableWeights;
    if (ws.length !== this.plan.numWeights) throw new DatError(`model ${this.model.name} now has ${ws.length} trainable weights, the compiled step ${this.plan.numWeights}`, { retryable: false });
    return ws.map((w) => w.read());
  }

  signAttack(a: SignAttackArgs): tf.Tensor4D {
    this.checkLive();
    let graph = this.attacks.get(a.steps);
    if (graph === undefined) {
      const inputs = [ATTACK_GRAPH.x, ATTACK_GRAPH.y, ATTACK_GRAPH.start, ATTACK_GRAPH.eps, ATTACK_GRAPH.stepSize, ...this.weightNames];
      graph = new LoadedGraph(this.backend, `${a.steps}-step attack`, buildSignAttackGraph(this.plan, a.steps, this.graphOpts), inputs, [ATTACK_GRAPH.output]);
      this.attacks.set(a.steps, graph);
    }
    const g = graph;
    return tf.tidy(() => g.run([a.x, a.y, a.start, tf.scalar(a.eps), tf.scalar(a.stepSize), ...this.weights()])[0] as tf.Tensor4D);
  }

  /** Loads the loss-gradient graph (attack graphs load on first use, one per step count). */
  load(): LoadedGraph {
    this.checkLive();
    if (this.lossGrad === undefined) {
      const inputs = [LOSS_GRAD_GRAPH.x, LOSS_GRAD_GRAPH.y, LOSS_GRAD_GRAPH.exampleWeight, ...this.weightNames];
      const outputs = [LOSS_GRAD_GRAPH.loss, ...this.weightNames.map((_, i) => `${LOSS_GRAD_GRAPH.gradPrefix}${i}`)];
      this.lossGrad = new LoadedGraph(this.backend, 'loss-gradient', buildLossGradGraph(this.plan, this.graphOpts), inputs, outputs);
    }
    return this.lossGrad;
  }

  weightedCrossEntropyGrads(x: tf.Tensor4D, y: tf.Tensor1D, exampleWeight: tf.Tensor1D): LossAndGrads {
    const [loss, ...grads] = this.load().run([x, y, exampleWeight, ...this.weights()]);
    return { loss: loss as tf.Scalar, grads };
  }

  dispose(): void {
    this.disposed = true;
    for (const g of this.attacks.values()) g.dispose();
    this.attacks.clear();
    this.lossGrad?.dispose();
    this.lossGrad = undefined;
  }
}
