import { before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { GraphBuilder, output, SAVED_MODEL_TAG } from '../../../../../worker/backend/native/graph/graph-def.js';
import type { SavedModelBackend } from '../../../../../worker/backend/native/graph/native-compiled-step.js';
import { initBackends, skipIfUnavailable } from '../../_compare.js';
import { decodeSavedModel, type DecodedAttr, type DecodedNode } from './_tf-protos.js';

/** A graph using every attribute kind, the way step-graphs.ts does. */
function sampleGraph(): GraphBuilder {
  const g = new GraphBuilder();
  const x = g.placeholder('x', 'float32', [-1, 28, 28, 1]);
  g.placeholder('y', 'int32', [-1]);
  g.placeholder('eps', 'float32', []);
  const half = g.scalar(0.5);
  const shape = g.int32s([-1, 784]);
  const flat = g.add('Reshape', [x, shape], { T: { type: 'float32' }, Tshape: { type: 'int32' } });
  g.add('MatMul', [flat, flat], { T: { type: 'float32' }, transpose_a: { b: false }, transpose_b: { b: true } });
  g.add('MaxPool', [x], { T: { type: 'float32' }, ksize: { ints: [1, 2, 2, 1] }, strides: { ints: [1, 2, 2, 1] }, padding: { s: 'SAME' } });
  g.add('Fake', [output('MatMul_0', 0), output('MaxPool_0', 1)], { i: { i: -7 }, f: { f: 0.25 }, empty: { ints: [] } }, 'named');
  g.add('Mul', [half, x], { T: { type: 'float32' } });
  return g;
}

function node(nodes: readonly DecodedNode[], name: string): DecodedNode {
  const n = nodes.find((m) => m.name === name);
  assert.ok(n, `node ${name} in ${nodes.map((m) => m.name).join(', ')}`);
  return n;
}

function attr(n: DecodedNode, key: string): DecodedAttr {
  const a = n.attr?.[key];
  assert.ok(a, `attr ${key} of ${n.name}: have ${Object.keys(n.attr ?? {}).join(', ')}`);
  return a;
}

const text = (b: Uint8Array | undefined): string => new TextDecoder().decode(b);

describe('GraphBuilder.encodeSavedModel, decoded with TensorFlow’s proto schema', () => {
  const decoded = decodeSavedModel(sampleGraph().encodeSavedModel());
  const meta = decoded.metaGraphs[0];
  const nodes = meta?.graphDef?.node ?? [];

  test('is a SavedModel of one MetaGraph tagged serve', () => {
    assert.equal(decoded.savedModelSchemaVersion, '1');
    assert.equal(decoded.metaGraphs.length, 1);
    assert.deepEqual(meta?.metaInfoDef?.tags, [SAVED_MODEL_TAG]);
    assert.equal(SAVED_MODEL_TAG, 'serve');
  });

  test('records the producer version', () => {
    // The GraphDef version TF checks consumers against; 0 or a missing field reads as a very old graph.
    assert.equal(meta?.graphDef?.versions?.producer, 1000);
  });

  test('has every node, in order, with generated names per op', () => {
    assert.deepEqual(
      nodes.map((n) => [n.name, n.op]),
      [
        ['x', 'Placeholder'],
        ['y', 'Placeholder'],
        ['eps', 'Placeholder'],
        ['Const_0', 'Const'],
        ['Const_1', 'Const'],
        ['Reshape_0', 'Reshape'],
        ['MatMul_0', 'MatMul'],
        ['MaxPool_0', 'MaxPool'],
        ['named', 'Fake'],
        ['Mul_0', 'Mul'],
      ],
    );
  });

  const inputCases = [
    { name: 'x', want: [] },
    { name: 'Reshape_0', want: ['x', 'Const_1'] },
    { name: 'MatMul_0', want: ['Reshape_0', 'Reshape_0'] },
    { name: 'named', want: ['MatMul_0', 'MaxPool_0:1'] },
    { name: 'Mul_0', want: ['Const_0', 'x'] },
  ];
  for (const c of inputCases) {
    test(`node ${c.name} has inputs [${c.want.join(', ')}]`, () => assert.deepEqual(node(nodes, c.name).input ?? [], c.want));
  }

  test('placeholders carry dtype and shape, -1 for an unknown dimension, [] for a scalar', () => {
    const shapeOf = (name: string): string[] | undefined => attr(node(nodes, name), 'shape').shape?.dim?.map((d) => d.size);
    assert.deepEqual(
      ['x', 'y', 'eps'].map((n) => [attr(node(nodes, n), 'dtype').type, shapeOf(n)]),
      [
        ['DT_FLOAT', ['-1', '28', '28', '1']],
        ['DT_INT32', ['-1']],
        ['DT_FLOAT', undefined],
      ],
    );
    const eps = attr(node(nodes, 'eps'), 'shape');
    assert.equal(eps.value, 'shape', 'a scalar shape is set (an empty TensorShapeProto), not left unknown');
    assert.notEqual(eps.shape?.unknownRank, true);
  });

  test('attribute kinds: type, b, s, i, f and int lists land in their oneof fields', () => {
    const matmul = node(nodes, 'MatMul_0');
    const pool = node(nodes, 'MaxPool_0');
    const named = node(nodes, 'named');
    assert.deepEqual(
      {
        T: attr(matmul, 'T'),
        ta: attr(matmul, 'transpose_a'),
        tb: attr(matmul, 'transpose_b'),
        pad: { value: attr(pool, 'padding').value, s: text(attr(pool, 'padding').s) },
        ksize: attr(pool, 'ksize'),
        i: attr(named, 'i'),
        f: attr(named, 'f'),
      },
      {
        T: { value: 'type', type: 'DT_FLOAT' },
        ta: { value: 'b', b: false },
        tb: { value: 'b', b: true },
        pad: { value: 's', s: 'SAME' },
        ksize: { value: 'list', list: { i: ['1', '2', '2', '1'] } },
        i: { value: 'i', i: '-7' },
        f: { value: 'f', f: 0.25 },
      },
    );
    assert.equal(attr(named, 'empty').value, 'list', 'an empty int list is still a list');
  });

  const constCases = [
    { name: 'Const_0', dtype: 'DT_FLOAT', shape: [], values: [0.5], read: (b: Uint8Array) => Array.from(new Float32Array(b.buffer, b.byteOffset, b.length / 4)) },
    { name: 'Const_1', dtype: 'DT_INT32', shape: ['2'], values: [-1, 784], read: (b: Uint8Array) => Array.from(new Int32Array(b.buffer, b.byteOffset, b.length / 4)) },
  ];
  for (const c of constCases) {
    test(`constant ${c.name}: ${c.dtype} [${c.shape.join(', ')}] = [${c.values.join(', ')}]`, () => {
      const n = node(nodes, c.name);
      assert.equal(attr(n, 'dtype').type, c.dtype);
      const t = attr(n, 'value').tensor;
      assert.ok(t);
      assert.equal(t.dtype, c.dtype);
      assert.deepEqual(t.tensorShape?.dim?.map((d) => d.size) ?? [], c.shape);
      // Copied out: decoded bytes may be an unaligned view.
      const content = Uint8Array.from(t.tensorContent ?? []);
      assert.equal(content.length, 4 * c.values.length);
      assert.deepEqual(c.read(content), c.values);
    });
  }

  test('a duplicate node name throws', () => {
    const g = new GraphBuilder();
    g.placeholder('x', 'float32', [-1]);
    assert.throws(() => g.add('Identity', ['x'], {}, 'x'), /graph node x already exists/);
    assert.throws(() => g.placeholder('x', 'int32', [1]), /graph node x already exists/);
    assert.equal(g.size, 1);
  });

  const badConstants = [
    { name: 'too few values', t: { dtype: 'float32', shape: [2, 2], values: [1, 2, 3] }, want: /needs 4 values, got 3/ },
    { name: 'too many values', t: { dtype: 'int32', shape: [2], values: [1, 2, 3] }, want: /needs 2 values, got 3/ },
    { name: 'a scalar without a value', t: { dtype: 'float32', shape: [], values: [] }, want: /needs 1 values, got 0/ },
  ] as const;
  for (const c of badConstants) {
    test(`a constant with ${c.name} throws`, () => {
      const g = new GraphBuilder();
      // The count is checked when the tensor is encoded, so either call may throw.
      assert.throws(() => {
        g.constant(c.t);
        g.encodeSavedModel();
      }, c.want);
    });
  }

  const renameCases: readonly { name: string; from: string; to: string; error?: RegExp }[] = [
    { name: 'an unread node takes the new name', from: 'Neg_0', to: 'out' },
    { name: 'a node another reads is refused', from: 'x', to: 'out', error: /graph node x is already an input/ },
    { name: 'a name in use is refused', from: 'Neg_0', to: 'x', error: /graph node x already exists/ },
    { name: 'an unknown node is refused', from: 'nope', to: 'out', error: /graph node nope does not exist/ },
  ];
  for (const c of renameCases) {
    test(`rename: ${c.name}`, () => {
      const g = new GraphBuilder();
      const x = g.placeholder('x', 'float32', [2]);
      g.add('Neg', [x], { T: { type: 'float32' } });
      if (c.error !== undefined) {
        assert.throws(() => g.rename(c.from, c.to), c.error);
        return;
      }
      assert.equal(g.rename(c.from, c.to), c.to);
      const nodes = decodeSavedModel(g.encodeSavedModel()).metaGraphs[0]?.graphDef?.node ?? [];
      assert.deepEqual(
        nodes.map((n) => [n.name, n.op]),
        [
          ['x', 'Placeholder'],
          ['out', 'Neg'],
        ],
      );
    });
  }

  test('output() names a node’s outputs in GraphDef input syntax', () => {
    assert.deepEqual([output('n', 0), output('n', 1), output('a/b', 2)], ['n', 'n:1', 'a/b:2']);
  });
});

describe('GraphBuilder.encodeSavedModel, loaded into libtensorflow', () => {
  before(initBackends);

  test('runs x * 2 + b and its Shape: placeholders, a scalar constant, two outputs', async (t) => {
    if (skipIfUnavailable(t, 'tensorflow')) return;
    await tf.setBackend('tensorflow');
    const backend = tf.backend() as unknown as SavedModelBackend;
    const g = new GraphBuilder();
    const x = g.placeholder('x', 'float32', [-1, 3]);
    const b = g.placeholder('b', 'float32', [3]);
    const y = g.add('AddV2', [g.add('Mul', [x, g.scalar(2)], { T: { type: 'float32' } }), b], { T: { type: 'float32' } }, 'y');
    const shape = g.add('Shape', [y], { T: { type: 'float32' }, out_type: { type: 'int32' } }, 'shape');
    const dir = mkdtempSync(join(tmpdir(), 'dat-graph-def-test-'));
    let id: number | undefined;
    try {
      writeFileSync(join(dir, 'saved_model.pb'), g.encodeSavedModel());
      id = backend.loadSavedModelMetaGraph(dir, SAVED_MODEL_TAG);
      const before = tf.memory().numTensors;
      const outs = tf.tidy(() =>
        backend.runSavedModel(id!, [tf.tensor2d([[1, 2, 3], [-1, 0, 0.5]]), tf.tensor1d([10, 20, 30])], [{ name: 'x:0' }, { name: 'b:0' }], [`${y}:0`, `${shape}:0`]),
      );
      assert.equal(tf.memory().numTensors, before + 2, 'only the outputs remain');
      assert.deepEqual(Array.from(outs[0]!.dataSync()), [12, 24, 36, 8, 20, 31]);
      assert.deepEqual([outs[1]!.dtype, Array.from(outs[1]!.dataSync())], ['int32', [2, 3]]);
      tf.dispose(outs);
    } finally {
      if (id !== undefined) backend.deleteSavedModel(id);
      rmSync(dir, { recursive: true, force: true });
      await tf.setBackend('cpu');
    }
  });
});
