/**
 * Hand-encoded TensorBoard Event protobufs (tensorflow/core/util/event.proto,
 * tensorflow/core/framework/summary.proto and tensor.proto): the file-version
 * header, scalar summaries (`simple_value`, a float32) and text summaries (the
 * text plugin's format: a scalar DT_STRING tensor tagged with plugin `text`).
 */
import { ProtoWriter } from './protobuf-writer.js';

/** The version string TensorBoard expects in a file's first event. */
export const EVENT_FILE_VERSION = 'brain.Event:2';

/** Field numbers of the messages used here. */
const EVENT = { wallTime: 1, step: 2, fileVersion: 3, summary: 5 } as const;
const SUMMARY = { value: 1 } as const;
const VALUE = { tag: 1, simpleValue: 2, tensor: 8, metadata: 9 } as const;
const METADATA = { pluginData: 1, dataClass: 4 } as const;
const PLUGIN_DATA = { pluginName: 1, content: 2 } as const;
const TENSOR = { dtype: 1, shape: 2, stringVal: 8 } as const;
/** tensorflow.DataType.DT_STRING. */
const DT_STRING = 7;
/** tensorboard.DataClass.DATA_CLASS_TENSOR: a text summary is a tensor, not a scalar series. */
const DATA_CLASS_TENSOR = 2;
/** The text plugin's name (tensorboard/plugins/text/metadata.py). */
export const TEXT_PLUGIN_NAME = 'text';

/** What an Event carries besides its time and step. */
export type EventBody =
  | { readonly kind: 'fileVersion' }
  | { readonly kind: 'scalars'; readonly values: ReadonlyArray<readonly [tag: string, value: number]> }
  | { readonly kind: 'text'; readonly tag: string; readonly text: string };

/** One encoded Event message. `wallTime` is in seconds since the epoch. */
export function encodeEvent(wallTime: number, step: number, body: EventBody): Uint8Array {
  const ev = new ProtoWriter().double(EVENT.wallTime, wallTime).uint(EVENT.step, step);
  if (body.kind === 'fileVersion') return ev.string(EVENT.fileVersion, EVENT_FILE_VERSION).finish();
  const summary = new ProtoWriter();
  if (body.kind === 'scalars') {
    for (const [tag, value] of body.values) summary.message(SUMMARY.value, new ProtoWriter().string(VALUE.tag, tag).float(VALUE.simpleValue, value));
  } else {
    summary.message(SUMMARY.value, textValue(body.tag, body.text));
  }
  return ev.message(EVENT.summary, summary).finish();
}

/** A Summary.Value holding `text` the way tf.summary.text writes it. */
function textValue(tag: string, text: string): ProtoWriter {
  // TextPluginData{version: 0} encodes to zero bytes: the content field stays empty.
  const plugin = new ProtoWriter().string(PLUGIN_DATA.pluginName, TEXT_PLUGIN_NAME).bytes(PLUGIN_DATA.content, new Uint8Array(0));
  const metadata = new ProtoWriter().message(METADATA.pluginData, plugin).uint(METADATA.dataClass, DATA_CLASS_TENSOR);
  // A scalar string tensor: an empty TensorShapeProto has no dims.
  const tensor = new ProtoWriter().uint(TENSOR.dtype, DT_STRING).message(TENSOR.shape, new ProtoWriter()).string(TENSOR.stringVal, text);
  return new ProtoWriter().string(VALUE.tag, tag).message(VALUE.metadata, metadata).message(VALUE.tensor, tensor);
}
