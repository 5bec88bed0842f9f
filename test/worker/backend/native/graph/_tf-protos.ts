/**
 * The subset of TensorFlow's protos a SavedModel of ours uses, as an
 * independent decoder for graph-def.ts's output. Field numbers are copied
 * from TensorFlow 2.9's core/protobuf/saved_model.proto, meta_graph.proto
 * and core/framework/graph.proto, versions.proto, node_def.proto,
 * attr_value.proto, tensor.proto, tensor_shape.proto and types.proto; fields
 * we never write are left out (protobufjs skips unknown fields, so a field
 * written under a wrong number shows up as missing).
 */
import protobuf from 'protobufjs';

export const TF_PROTO_SUBSET = `
syntax = "proto3";
package tensorflow;

enum DataType {
  DT_INVALID = 0;
  DT_FLOAT = 1;
  DT_DOUBLE = 2;
  DT_INT32 = 3;
  DT_UINT8 = 4;
  DT_INT64 = 9;
}

message TensorShapeProto {
  message Dim {
    int64 size = 1;
    string name = 2;
  }
  repeated Dim dim = 2;
  bool unknown_rank = 3;
}

message TensorProto {
  DataType dtype = 1;
  TensorShapeProto tensor_shape = 2;
  int32 version_number = 3;
  bytes tensor_content = 4;
  repeated float float_val = 5 [packed = true];
  repeated int32 int_val = 7 [packed = true];
}

message AttrValue {
  message ListValue {
    repeated bytes s = 2;
    repeated int64 i = 3 [packed = true];
    repeated float f = 4 [packed = true];
    repeated bool b = 5 [packed = true];
    repeated DataType type = 6 [packed = true];
    repeated TensorShapeProto shape = 7;
    repeated TensorProto tensor = 8;
  }
  oneof value {
    bytes s = 2;
    int64 i = 3;
    float f = 4;
    bool b = 5;
    DataType type = 6;
    TensorShapeProto shape = 7;
    TensorProto tensor = 8;
    ListValue list = 1;
    string placeholder = 9;
  }
}

message NodeDef {
  string name = 1;
  string op = 2;
  repeated string input = 3;
  string device = 4;
  map<string, AttrValue> attr = 5;
}

message VersionDef {
  int32 producer = 1;
  int32 min_consumer = 2;
  repeated int32 bad_consumers = 3;
}

message GraphDef {
  repeated NodeDef node = 1;
  VersionDef versions = 4;
}

message MetaGraphDef {
  message MetaInfoDef {
    string meta_graph_version = 1;
    repeated string tags = 4;
    string tensorflow_version = 5;
  }
  MetaInfoDef meta_info_def = 1;
  GraphDef graph_def = 2;
}

message SavedModel {
  int64 saved_model_schema_version = 1;
  repeated MetaGraphDef meta_graphs = 2;
}
`;

/** A decoded TensorShapeProto (int64 sizes as decimal strings). */
export interface DecodedShape {
  readonly dim?: { readonly size: string; readonly name?: string }[];
  readonly unknownRank?: boolean;
}

/** A decoded TensorProto. */
export interface DecodedTensor {
  readonly dtype: string;
  readonly tensorShape?: DecodedShape;
  readonly tensorContent?: Uint8Array;
}

/** A decoded AttrValue: exactly one of the fields is set. */
export interface DecodedAttr {
  readonly value?: string;
  readonly s?: Uint8Array;
  readonly i?: string;
  readonly f?: number;
  readonly b?: boolean;
  readonly type?: string;
  readonly shape?: DecodedShape;
  readonly tensor?: DecodedTensor;
  readonly list?: { readonly i?: string[] };
}

/** A decoded NodeDef. */
export interface DecodedNode {
  readonly name: string;
  readonly op: string;
  readonly input?: string[];
  readonly attr?: Record<string, DecodedAttr>;
}

/** A decoded SavedModel. */
export interface DecodedSavedModel {
  readonly savedModelSchemaVersion: string;
  readonly metaGraphs: {
    readonly metaInfoDef?: { readonly tags?: string[] };
    readonly graphDef?: { readonly node?: DecodedNode[]; readonly versions?: { readonly producer?: number; readonly minConsumer?: number } };
  }[];
}

const root = protobuf.parse(TF_PROTO_SUBSET).root.resolveAll();

/** Decodes `saved_model.pb` bytes; int64s as strings, enums as names, oneofs with their case in `value`. */
export function decodeSavedModel(bytes: Uint8Array): DecodedSavedModel {
  const type = root.lookupType('tensorflow.SavedModel');
  return type.toObject(type.decode(bytes), { longs: String, enums: String, oneofs: true }) as DecodedSavedModel;
}
