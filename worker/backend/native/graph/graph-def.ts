/**
 * Builds a TensorFlow GraphDef node by node and encodes it as a SavedModel
 * (`saved_model.pb`), the one graph format tfjs-node can run
 * (`loadSavedModel`/`runSavedModel`). Field numbers are those of TensorFlow's
 * graph.proto, node_def.proto, attr_value.proto, tensor.proto,
 * tensor_shape.proto, meta_graph.proto and saved_model.proto.
 */
import { ProtoWriter } from './proto-writer.js';

/** TensorFlow DataType enum values (types.proto). */
export const TF_DTYPE = { float32: 1, int32: 3 } as const;
export type TfDtype = keyof typeof TF_DTYPE;

/** A node attribute value (attr_value.proto), one variant each. */
export type AttrValue =
  | { readonly type: TfDtype }
  | { readonly i: number }
  | { readonly f: number }
  | { readonly b: boolean }
  | { readonly s: string }
  | { readonly ints: readonly number[] }
  /** A shape; -1 is an unknown dimension. */
  | { readonly shape: readonly number[] }
  | { readonly tensor: ConstTensor };

/** A small constant tensor embedded in the graph. */
export interface ConstTensor {
  readonly dtype: TfDtype;
  readonly shape: readonly number[];
  readonly values: readonly number[];
}

/** One node as it will be encoded. */
interface NodeSpec {
  readonly name: string;
  readonly op: string;
  readonly inputs: readonly string[];
  readonly attrs: Readonly<Record<string, AttrValue>>;
}

/**
 * The graph's producer version: TF 2.9's GraphDef version is above it, and
 * no op used here was deprecated before it.
 */
const GRAPH_PRODUCER = 1000;

/** The SavedModel tag the graphs are saved and loaded under. */
export const SAVED_MODEL_TAG = 'serve';

/** Reference to output `index` of node `name`, in GraphDef input syntax. */
export function output(name: string, index: number): string {
  return index === 0 ? name : `${name}:${index}`;
}

/** Collects nodes with unique names; `add` returns the new node's name. */
export class GraphBuilder {
  private readonly nodes: NodeSpec[] = [];
  private readonly counts = new Map<string, number>();

  /** Adds a node; its name is `name` (which must be unused) or derived from `op`. */
  add(op: string, inputs: readonly string[], attrs: Readonly<Record<string, AttrValue>> = {}, name?: string): string {
    let nodeName = name;
    if (nodeName === undefined) {
      const k = this.counts.get(op) ?? 0;
      this.counts.set(op, k + 1);
      nodeName = `${op}_${k}`;
    }
    if (this.nodes.some((n) => n.name === nodeName)) throw new Error(`graph node ${nodeName} already exists`);
    this.nodes.push({ name: nodeName, op, inputs, attrs });
    return nodeName;
  }

  /**
   * Gives node `from` the name `to`, for an output that a shared definition
   * (written against NumOps, which names nothing) emitted last. Only a node
   * no other node reads yet can be renamed.
   */
  rename(from: string, to: string): string {
    const i = this.nodes.findIndex((n) => n.name === from);
    if (i < 0) throw new Error(`graph node ${from} does not exist`);
    if (this.nodes.some((n) => n.name === to)) throw new Error(`graph node ${to} already exists`);
    if (this.nodes.some((n) => n.inputs.some((input) => input === from || input.startsWith(`${from}:`)))) throw new Error(`graph node ${from} is already an input; cannot rename it`);
    this.nodes[i] = { ...this.nodes[i]!, name: to };
    return to;
  }

  /** A graph input. */
  placeholder(name: string, dtype: TfDtype, shape: readonly number[]): string {
    return this.add('Placeholder', [], { dtype: { type: dtype }, shape: { shape } }, name);
  }

  /** A constant. */
  constant(t: ConstTensor): string {
    checkConstant(t);
    return this.add('Const', [], { dtype: { type: t.dtype }, value: { tensor: t } });
  }

  /** A float32 scalar constant. */
  scalar(v: number): string {
    return this.constant({ dtype: 'float32', shape: [], values: [v] });
  }

  /** An int32 scalar constant. */
  scalarInt32(v: number): string {
    return this.constant({ dtype: 'int32', shape: [], values: [v] });
  }

  /** An int32 vector constant. */
  int32s(values: readonly number[]): string {
    return this.constant({ dtype: 'int32', shape: [values.length], values });
  }

  /** Number of nodes so far. */
  get size(): number {
    return this.nodes.length;
  }

  /** The graph as a `saved_model.pb` with one MetaGraph tagged `tag`. */
  encodeSavedModel(tag: string = SAVED_MODEL_TAG): Uint8Array {
    return new ProtoWriter()
      .varint(1, 1) // saved_model_schema_version
      .message(2, (meta) => {
        meta.message(1, (info) => info.string(4, tag)); // meta_info_def.tags
        meta.message(2, (graph) => {
          for (const node of this.nodes) graph.message(1, (w) => writeNode(w, node));
          graph.message(4, (v) => v.varint(1, GRAPH_PRODUCER)); // versions.producer
        });
      })
      .finish();
  }
}

function writeNode(w: ProtoWriter, node: NodeSpec): void {
  w.string(1, node.name).string(2, node.op);
  for (const input of node.inputs) w.string(3, input);
  for (const [key, value] of Object.entries(node.attrs)) {
    w.message(5, (entry) => entry.string(1, key).message(2, (a) => writeAttr(a, value)));
  }
}

function writeShape(w: ProtoWriter, shape: readonly number[]): void {
  for (const size of shape) w.message(2, (dim) => dim.varint(1, size));
}

function checkConstant(t: ConstTensor): void {
  const count = t.shape.reduce((a, b) => a * b, 1);
  if (count !== t.values.length) throw new Error(`constant of shape [${t.shape.join(', ')}] needs ${count} values, got ${t.values.length}`);
}

function writeTensor(w: ProtoWriter, t: ConstTensor): void {
  checkConstant(t);
  w.varint(1, TF_DTYPE[t.dtype]).message(2, (s) => writeShape(s, t.shape));
  const bytes = t.dtype === 'float32' ? new Float32Array(t.values) : new Int32Array(t.values);
  w.bytes(4, new Uint8Array(bytes.buffer)); // tensor_content, little-endian like every host here
}

function writeAttr(w: ProtoWriter, v: AttrValue): void {
  if ('type' in v) w.varint(6, TF_DTYPE[v.type]);
  else if ('i' in v) w.varint(3, v.i);
  else if ('f' in v) w.float(4, v.f);
  else if ('b' in v) w.varint(5, v.b);
  else if ('s' in v) w.string(2, v.s);
  else if ('ints' in v) w.message(1, (list) => list.packedVarints(3, v.ints));
  else if ('shape' in v) w.message(7, (s) => writeShape(s, v.shape));
  else w.message(8, (t) => writeTensor(t, v.tensor));
}
