/**
 * The CRD's training fields against the worker's option specs, field by field.
 *
 * Why a test rather than generating the CRD fragment from the specs: the CRD
 * is hand-written YAML with descriptions, defaults, CEL rules and comments
 * that a generator would have to carry too, while the facts that must agree
 * (type, enum, bounds) are few and mechanical to compare. TRAIN_ARG_FIELDS
 * (operator/desired/train-args.ts) names each option's CRD path once, and the
 * same table renders the flags, so this walk covers exactly what reaches the
 * worker. A new option fails here until it is mapped or listed as not in the
 * CRD, and a bound changed on one side only fails here too.
 *
 * The rule checked is equality: the CRD accepts exactly the values the
 * worker's parser accepts (same type, enum and bounds, exclusive or not), so a
 * spec the API server accepts is one the worker accepts, and the reverse.
 * Cross-field rules (warm-up vs epochs, stepSize vs eps, ...) are one table,
 * worker/cli/cross-field-rules.ts: the last tests here prove the CRD's CEL
 * rules under spec.training are exactly that table's (or pod-only, listed
 * below with the reason), and that the worker's parser refuses every rule's
 * violating spec once the operator renders it into flags;
 * test/integration/operator/cross-field-rules.test.ts sends the same specs to
 * a real API server.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parse } from 'yaml';
import { TRAIN_ARG_FIELDS, toFlag } from '../../operator/desired/train-args.js';
import { DATASET_DEFAULTS } from '../../worker/cli/defaults.js';
import { OPTION_SPECS, type ValueSpec } from '../../worker/cli/option-specs.js';
import { COMPRESSION_NEEDS_RING, CROSS_FIELD_RULES } from '../../worker/cli/cross-field-rules.js';
import { parseTrainArgs } from '../../worker/cli/parse-args.js';
import { ConfigError } from '../../common/errors.js';
import { buildTrainArgs } from '../../operator/desired/train-args.js';
import type { DATJobTrainingSpec } from '../../operator/api/types.js';
import type { TrainOptions } from '../../common/contract.js';
import { REPO_ROOT } from '../support/paths.js';

/** A JSON schema node of the CRD (the keys this test reads). */
interface SchemaNode {
  type?: string;
  enum?: unknown[];
  minimum?: number;
  maximum?: number;
  exclusiveMinimum?: boolean;
  exclusiveMaximum?: boolean;
  minLength?: number;
  properties?: Record<string, SchemaNode>;
  items?: SchemaNode;
  'x-kubernetes-list-type'?: string;
  'x-kubernetes-validations'?: { rule: string; message?: string }[];
}

/** Options the CRD does not carry, each with the reason. */
const NOT_IN_CRD: Readonly<Partial<Record<keyof TrainOptions, string>>> = {
  progress: 'a terminal display mode; pods log plain lines',
  workers: 'local launcher only; a pod gets its world size from DAT_WORLD_SIZE (spec.workers.replicas)',
  epsWarmupEpochs: 'not exposed yet: the worker default (a third of the epochs at most) applies',
  allowConfigChange: 'a resume override for the CLI; the operator never changes the configuration of a job',
};

async function loadSpecSchema(): Promise<SchemaNode> {
  const crd = parse(await readFile(join(REPO_ROOT, 'crds', 'datjob.yaml'), 'utf8')) as {
    spec: { versions: { schema: { openAPIV3Schema: SchemaNode } }[] };
  };
  return crd.spec.versions[0]!.schema.openAPIV3Schema.properties!.spec!;
}

function nodeAt(root: SchemaNode, path: string): SchemaNode | undefined {
  let cur: SchemaNode | undefined = root;
  for (const key of path.split('.')) cur = cur?.properties?.[key];
  return cur;
}

/** Problems of one CRD node against the worker's value spec; empty when the CRD accepts exactly what the worker accepts. */
function compare(node: SchemaNode, v: ValueSpec): string[] {
  const out: string[] = [];
  const bounds = (n: SchemaNode, min: number, max: number, minEx: boolean, maxEx: boolean): void => {
    const lo = (ex: boolean | undefined, x: number | undefined): string => `${ex === true ? '>' : '>='} ${x}`;
    const hi = (ex: boolean | undefined, x: number | undefined): string => `${ex === true ? '<' : '<='} ${x}`;
    if (n.minimum !== min || (n.exclusiveMinimum === true) !== minEx) out.push(`minimum ${lo(n.exclusiveMinimum, n.minimum)}, worker ${lo(minEx, min)}`);
    if (n.maximum !== max || (n.exclusiveMaximum === true) !== maxEx) out.push(`maximum ${hi(n.exclusiveMaximum, n.maximum)}, worker ${hi(maxEx, max)}`);
  };
  switch (v.kind) {
    case 'enum':
      if (node.type !== 'string') out.push(`type ${node.type}, want string`);
      if (JSON.stringify([...(node.enum ?? [])].sort()) !== JSON.stringify([...v.values].sort())) out.push(`enum [${(node.enum ?? []).join(', ')}], worker [${v.values.join(', ')}]`);
      break;
    case 'int':
      if (node.type !== 'integer') out.push(`type ${node.type}, want integer`);
      bounds(node, v.min, v.max, false, false);
      break;
    case 'number':
      if (node.type !== 'number') out.push(`type ${node.type}, want number`);
      bounds(node, v.min, v.max, v.minExclusive === true, v.maxExclusive === true);
      break;
    case 'number-list': {
      if (node.type !== 'array' || node.items?.type !== 'number') out.push('want an array of numbers');
      const min = node.items?.minimum;
      if (min !== v.min || node.items?.exclusiveMinimum === true) out.push(`item minimum ${min}, worker >= ${v.min}`);
      // The worker takes strictly increasing lists: a set (no repeats) that is sorted.
      if (node['x-kubernetes-list-type'] !== 'set') out.push('not x-kubernetes-list-type: set (repeats pass)');
      if (!(node['x-kubernetes-validations'] ?? []).some((r) => r.rule.includes('self.isSorted()'))) out.push('no self.isSorted() rule');
      break;
    }
    case 'enum-list': {
      if (node.type !== 'array' || node.items?.type !== 'string') out.push('want an array of strings');
      const items = node.items?.enum ?? [];
      if (JSON.stringify([...items].sort()) !== JSON.stringify([...v.values].sort())) out.push(`item enum [${items.join(', ')}], worker [${v.values.join(', ')}]`);
      // The worker drops repeats; the CRD refuses them rather than store a list that renders differently.
      if (node['x-kubernetes-list-type'] !== 'set') out.push('not x-kubernetes-list-type: set');
      break;
    }
    case 'string':
      // The worker refuses an empty string.
      if (node.type !== 'string' || node.minLength !== 1) out.push(`type ${node.type} minLength ${node.minLength}, want string with minLength 1`);
      break;
  }
  return out;
}

test('every option the operator renders has a CRD field that accepts exactly what the worker accepts', async () => {
  const spec = await loadSpecSchema();
  const problems: string[] = [];
  for (const f of TRAIN_ARG_FIELDS) {
    if (!('field' in f.from)) continue;
    const optionSpec = OPTION_SPECS.find((s) => s.key === f.option);
    if (optionSpec === undefined) {
      problems.push(`${f.option}: no worker option spec`);
      continue;
    }
    const node = nodeAt(spec, f.from.field);
    if (node === undefined) {
      problems.push(`${f.option}: no CRD field spec.${f.from.field}`);
      continue;
    }
    for (const p of compare(node, optionSpec.value)) problems.push(`spec.${f.from.field} (${toFlag(f.option)}): ${p}`);
  }
  assert.deepEqual(problems, []);
});

test('every worker option is either rendered by the operator or deliberately not in the CRD', () => {
  const rendered = new Set(TRAIN_ARG_FIELDS.map((f) => f.option));
  const unaccounted = OPTION_SPECS.map((s) => s.key).filter((k) => !rendered.has(k) && NOT_IN_CRD[k] === undefined);
  assert.deepEqual(unaccounted, [], 'map these in TRAIN_ARG_FIELDS or list them in NOT_IN_CRD with a reason');
  const both = OPTION_SPECS.map((s) => s.key).filter((k) => rendered.has(k) && NOT_IN_CRD[k] !== undefined);
  assert.deepEqual(both, []);
});

test('the CEL rules that stand in for unset epochs use the worker\'s per-dataset default', async () => {
  const training = nodeAt(await loadSpecSchema(), 'training')!;
  const others = [...new Set(Object.entries(DATASET_DEFAULTS).filter(([d]) => d !== 'cifar10').map(([, v]) => v.epochs))];
  assert.equal(others.length, 1, 'the rules assume one default for every dataset but cifar10');
  const expr = `(has(self.epochs) ? self.epochs : (self.dataset == 'cifar10' ? ${DATASET_DEFAULTS.cifar10.epochs} : ${others[0]}))`;
  const warmupRules = (training['x-kubernetes-validations'] ?? []).filter((r) => r.rule.includes('warmupEpochs'));
  assert.equal(warmupRules.length, 2, 'warm-up at most epochs, and below epochs for cosine');
  for (const r of warmupRules) {
    assert.ok(r.rule.includes(expr), `${r.rule}\nshould contain ${expr}`);
    assert.ok(r.message?.includes(`unset epochs means ${others[0]}, or ${DATASET_DEFAULTS.cifar10.epochs} on cifar10`), r.message);
  }
});

/** CEL rules under spec.training that are not the worker's: they concern the pod or updates, which `dat train` never sees. */
const POD_ONLY_RULES: readonly { at: string; rule: string; why: string }[] = [
  { at: 'training', rule: 'self == oldSelf', why: 'immutability is a matter of updates' },
  { at: 'training', rule: "self.dataset in ['mnist', 'fashion-mnist'] || !has(self.dataVolume) || !has(self.dataVolume.emptyDir)", why: 'the kind of volume is the pod\'s; the worker sees a directory' },
  { at: 'training.dataVolume', rule: 'has(self.claimName) != has(self.emptyDir)', why: 'the volume source is the pod\'s' },
  { at: 'training.schedule.milestones', rule: 'self.isSorted()', why: 'a value rule, compared with the number-list spec above' },
];

/** The spec sections whose CEL rules must be the worker's: both render into `dat train` flags. */
const RENDERED_SECTIONS = ['training', 'evaluation'] as const;

/** Every CEL rule below `node`, with its dotted path below spec. */
function celRules(node: SchemaNode, at: string): { at: string; rule: string }[] {
  const own = (node['x-kubernetes-validations'] ?? []).map((r) => ({ at, rule: r.rule }));
  const props = Object.entries(node.properties ?? {}).flatMap(([k, child]) => celRules(child, `${at}.${k}`));
  const items = node.items === undefined ? [] : celRules(node.items, at);
  return [...own, ...props, ...items];
}

const key = (r: { at: string; rule: string }): string => `${r.at}: ${r.rule}`;

test('the CRD\'s CEL rules under spec.training and spec.evaluation are the worker\'s cross-field rules, plus the listed pod-only ones', async () => {
  const schema = await loadSpecSchema();
  const inCrd = RENDERED_SECTIONS.flatMap((section) => celRules(nodeAt(schema, section)!, section)).map(key).sort();
  const accounted = [...CROSS_FIELD_RULES.flatMap((r) => (r.crd === undefined ? [] : [r.crd])), ...POD_ONLY_RULES].map(key).sort();
  assert.deepEqual(inCrd, accounted, 'a CRD rule changed on one side only: edit worker/cli/cross-field-rules.ts and crds/datjob.yaml together');
});

test('compression needs a ring: the CRD states it on the whole spec, and the worker with the pod\'s world size', async () => {
  const schema = await loadSpecSchema();
  const specRules = (schema['x-kubernetes-validations'] ?? []).map((r) => r.rule);
  assert.ok(specRules.includes(COMPRESSION_NEEDS_RING.crd.rule), `the CRD's spec rules:\n${specRules.join('\n')}`);
  // What the operator renders for a compressed job, in a pod of a 1-replica and a 2-replica gang.
  const argv = renderFlags({ dataset: 'mnist', model: 'mlp', compression: { type: 'sign-ef' } });
  assert.throws(() => parseTrainArgs(argv, { DAT_WORLD_SIZE: '1' }), (err: unknown) => err instanceof ConfigError && /nothing to all-reduce with one worker/.test(err.message));
  assert.equal(parseTrainArgs(argv, { DAT_WORLD_SIZE: '2' }).compression, 'sign-ef');
});

test('the worker refuses every cross-field rule\'s violating spec, as the operator renders it', async (t) => {
  for (const rule of CROSS_FIELD_RULES) {
    await t.test(rule.id, () => {
      const argv = 'argv' in rule.violation ? [...rule.violation.argv] : renderFlags(rule.violation.training);
      assert.throws(() => parseTrainArgs(argv, { DAT_WORLD_SIZE: '2' }), ConfigError, argv.join(' '));
    });
  }
});

test('every cross-field rule can pass: the table\'s violations differ from an accepted spec only where the rule looks', () => {
  // The same specs with the rule's field relaxed parse, so each refusal above is that rule's.
  const relaxed: Record<string, readonly string[]> = {
    'data-dir-for-file-datasets': renderFlags({ dataset: 'cifar10', model: 'small-cnn', dataVolume: { claimName: 'd' } }),
    'warmup-within-epochs': renderFlags({ dataset: 'mnist', model: 'mlp', epochs: 4, schedule: { type: 'step', milestones: [2], warmupEpochs: 4 } }),
    'cosine-leaves-an-epoch-to-decay': renderFlags({ dataset: 'mnist', model: 'mlp', epochs: 4, schedule: { type: 'cosine', warmupEpochs: 3 } }),
    'eps-warmup-within-epochs': ['--epochs', '3', '--eps-warmup-epochs', '3'],
    'linf-eps-in-pixel-range': renderFlags({ dataset: 'mnist', model: 'mlp', attack: { type: 'pgd-l2', eps: 8 } }),
    'step-size-within-eps': renderFlags({ dataset: 'mnist', model: 'mlp', attack: { type: 'pgd', eps: 0.2, stepSize: 0.2, steps: 5 } }),
    'step-schedule-has-milestones': renderFlags({ dataset: 'mnist', model: 'mlp', schedule: { type: 'step', milestones: [5] } }),
    'unlabeled-split-needs-two-examples': renderFlags({ dataset: 'mnist', model: 'mlp', limit: 2, unlabeledFraction: 0.5 }),
    'attack-parameters': renderFlags({ dataset: 'mnist', model: 'mlp', attack: { type: 'pgd', steps: 1 } }),
    'final-eval-none-alone': ['--final-eval', 'pgd'],
  };
  assert.deepEqual(Object.keys(relaxed).sort(), CROSS_FIELD_RULES.map((r) => r.id).sort(), 'one accepted neighbour per rule');
  for (const [id, argv] of Object.entries(relaxed)) assert.doesNotThrow(() => parseTrainArgs(argv, { DAT_WORLD_SIZE: '2' }), id);
});

/** The flags the operator renders for a `spec.training` (a data directory when the spec has a data volume). */
function renderFlags(training: Record<string, unknown>): string[] {
  const dataDir = training.dataVolume === undefined ? {} : { dataDir: '/var/lib/dat/data' };
  return buildTrainArgs(training as unknown as DATJobTrainingSpec, { volume: { emptyDir: {} } }, { checkpointDir: '/var/lib/dat/checkpoint', outputDir: '/tmp/dat-out', ...dataDir });
}
