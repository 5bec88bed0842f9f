import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { EXIT_CODES, type TrainOptions } from '../../../common/contract.js';
import { ConfigError } from '../../../common/errors.js';
import { parseCommand, parseTrainArgs } from '../../../worker/cli/parse-args.js';
import { formatTrainArgs } from '../../../worker/cli/format-args.js';
import { formatTrainHelp } from '../../../worker/cli/help-text.js';
import { flagName, OPTION_SPECS } from '../../../worker/cli/option-specs.js';
import { exitCodeFor } from '../../../worker/cli/exit-code.js';
import { runEntry, type EntryRun } from '../../support/run-entry.js';

describe('parseTrainArgs: good values', () => {
  const cases: { name: string; argv: string[]; env?: NodeJS.ProcessEnv; want: Partial<TrainOptions> }[] = [
    {
      name: 'MNIST defaults',
      argv: [],
      want: { dataset: 'mnist', model: 'small-cnn', augment: 'none', attack: 'pgd', eps: 0.3, attackSteps: 10, attackStepSize: 0.075, loss: 'adv', lambda: 1, optimizer: 'lamb', lr: 0.03, schedule: 'cosine', warmupEpochs: 1, epochs: 15, batchSize: 256, evalAttackSteps: 20, workers: 1 },
    },
    {
      name: 'CIFAR-10 defaults follow DAT (8/255, 2/255 steps, step decay at 75%/90%)',
      argv: ['--dataset', 'cifar10', '--data-dir', '/data'],
      want: { model: 'preact-resnet-8', augment: 'crop-flip', eps: 8 / 255, attackStepSize: 2 / 255, loss: 'adv-clean', optimizer: 'sgd', schedule: 'step', milestones: [23, 27], epochs: 30, batchSize: 128 },
    },
    { name: 'fashion-mnist takes the MNIST training defaults at eps 0.1', argv: ['--dataset', 'fashion-mnist'], want: { eps: 0.1, loss: 'adv', optimizer: 'lamb', lr: 0.03, batchSize: 256 } },
    { name: 'pgd-l2 takes the dataset\'s PGD loss', argv: ['--attack', 'pgd-l2'], want: { eps: 2.0, loss: 'adv' } },
    { name: '--augment overrides the dataset default', argv: ['--dataset', 'cifar10', '--data-dir', '/data', '--augment', 'none'], want: { augment: 'none' } },
    { name: 'the deprecated --model preact-resnet still parses', argv: ['--model', 'preact-resnet'], want: { model: 'preact-resnet' } },
    { name: 'lamb when several workers (lr 0.03 on mnist)', argv: ['--workers', '4'], want: { workers: 4, optimizer: 'lamb', lr: 0.03, weightDecay: 1e-4 } },
    { name: "lamb on cifar10 keeps DAT's lr 0.01", argv: ['--dataset', 'cifar10', '--data-dir', '/data', '--workers', '4'], want: { optimizer: 'lamb', lr: 0.01 } },
    { name: 'lamb lr follows the dataset for an explicit --optimizer too', argv: ['--dataset', 'cifar10', '--data-dir', '/data', '--optimizer', 'lamb'], want: { workers: 1, optimizer: 'lamb', lr: 0.01 } },
    { name: 'an explicit --optimizer adam gets its own lr and weight decay', argv: ['--optimizer', 'adam'], want: { optimizer: 'adam', lr: 1e-3, weightDecay: 0 } },
    { name: 'lamb in a ring member (DAT_WORLD_SIZE)', argv: [], env: { DAT_WORLD_SIZE: '3' }, want: { optimizer: 'lamb' } },
    { name: 'fgsm-rs: step 1.25 eps, adversarial loss', argv: ['--attack', 'fgsm-rs', '--eps', '0.2'], want: { attackStepSize: 0.25, loss: 'adv' } },
    { name: 'fgsm-rs may step beyond eps (the CRD rule covers pgd, pgd-l2, trades)', argv: ['--attack', 'fgsm-rs', '--eps', '0.2', '--attack-step-size', '0.25'], want: { attackStepSize: 0.25 } },
    { name: 'a derived step size above eps is not refused (the CRD checks set fields only)', argv: ['--eps', '0.1', '--attack-steps', '1'], want: { attackStepSize: 0.25 } },
    { name: 'trades loss follows the attack', argv: ['--attack', 'trades'], want: { loss: 'trades', beta: 6 } },
    { name: '--flag=value and fractions', argv: ['--eps=8/255', '--lr=5e-4', '--milestones', '75,90', '--epochs', '100'], want: { eps: 8 / 255, lr: 5e-4, milestones: [75, 90] } },
    { name: 'explicit values win over derived defaults', argv: ['--attack-step-size', '0.01', '--attack-steps', '40', '--loss', 'adv'], want: { attackStepSize: 0.01, attackSteps: 40, loss: 'adv' } },
    { name: 'optional fields', argv: ['--limit', '256', '--test-size', '500', '--checkpoint-dir', '/ckpt'], want: { limit: 256, testSize: 500, checkpointDir: '/ckpt' } },
    { name: 'one epoch gets no warm-up', argv: ['--epochs', '1'], want: { epochs: 1, warmupEpochs: 0, milestones: [] } },
    { name: 'L-inf eps of exactly 1', argv: ['--eps', '1'], want: { eps: 1 } },
    { name: 'an L2 radius above 1 for pgd-l2', argv: ['--attack', 'pgd-l2', '--eps', '2.5'], want: { eps: 2.5 } },
    { name: 'options a resume may change', argv: ['--allow-config-change', 'epochs,eval-size,epochs'], want: { allowConfigChange: ['epochs', 'eval-size'] } },
    { name: 'no final evaluation by default; when asked, 1000 examples at the training eps', argv: [], want: { finalEval: ['none'], finalEvalExamples: 1000, finalEvalEps: 0.3 } },
    { name: 'final evaluation eps follows --eps', argv: ['--final-eval', 'autoattack', '--eps', '0.2'], want: { finalEval: ['autoattack'], finalEvalEps: 0.2 } },
    { name: 'final evaluation of pgd-l2 training is L-inf at the dataset eps', argv: ['--dataset', 'fashion-mnist', '--attack', 'pgd-l2', '--eps', '1.5'], want: { finalEvalEps: 0.1 } },
    { name: 'compression with a local ring (--workers)', argv: ['--workers', '2', '--compression', 'sign-ef'], want: { compression: 'sign-ef' } },
    { name: 'compression in a ring member (DAT_WORLD_SIZE), whose --workers stays 1', argv: ['--compression', 'qsgd8'], env: { DAT_WORLD_SIZE: '2' }, want: { workers: 1, compression: 'qsgd8' } },
    { name: 'compression none with one worker', argv: ['--compression', 'none'], want: { compression: 'none' } },
    { name: 'final evaluation at eps 0 (clean accuracy), every example, attacks in order', argv: ['--final-eval', 'square,apgd-ce', '--final-eval-eps', '0', '--final-eval-examples', '0'], want: { finalEval: ['square', 'apgd-ce'], finalEvalEps: 0, finalEvalExamples: 0 } },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const got = parseTrainArgs(c.argv, c.env);
      const picked = Object.fromEntries(Object.keys(c.want).map((k) => [k, got[k as keyof TrainOptions]]));
      assert.deepEqual(picked, c.want);
    });
  }
});

describe('parseTrainArgs: bad values are one-line ConfigErrors naming the option', () => {
  const cases: { name: string; argv: string[]; env?: NodeJS.ProcessEnv; want: RegExp }[] = [
    { name: 'unknown enum value', argv: ['--model', 'resnet50'], want: /^invalid value "resnet50" for --model: expected one of mlp, small-cnn, madry-cnn, preact-resnet-8, preact-resnet-18, wide-resnet-34-10, preact-resnet$/ },
    { name: 'not a number', argv: ['--eps', 'big'], want: /^invalid value "big" for --eps: expected a number in \(0, 100\]$/ },
    // Training keeps refusing eps 0 (the attack's step would be 0), and says so.
    { name: 'training eps 0', argv: ['--eps', '0'], want: /^invalid value "0" for --eps: expected a number in \(0, 100\] \(eps 0 leaves the training attack nothing to search .*use --attack none\)$/ },
    { name: 'final eval eps above 1', argv: ['--final-eval', 'pgd', '--final-eval-eps', '1.5'], want: /^invalid value "1.5" for --final-eval-eps: expected a number in \[0, 1\]$/ },
    { name: 'unknown final eval attack', argv: ['--final-eval', 'apgd-ce,cw'], want: /^unknown value "cw" for --final-eval: expected comma-separated values from none, autoattack, pgd, apgd-ce, apgd-t, fab-t, square$/ },
    { name: 'final eval none with attacks', argv: ['--final-eval', 'none,pgd'], want: /^invalid value none,pgd for --final-eval: none turns the final evaluation off/ },
    { name: 'out of range', argv: ['--unlabeled-fraction', '1'], want: /for --unlabeled-fraction: expected a number in \[0, 1\)/ },
    { name: 'not an integer', argv: ['--epochs', '2.5'], want: /for --epochs: expected an integer in \[1, 1000000\]/ },
    { name: 'negative batch size', argv: ['--batch-size', '-4'], want: /for --batch-size: expected an integer/ },
    { name: 'milestones not increasing', argv: ['--milestones', '90,75'], want: /for --milestones: expected comma-separated increasing numbers/ },
    { name: 'unknown flag', argv: ['--learning-rate', '0.1'], want: /^unknown option --learning-rate; run dat train --help/ },
    { name: 'missing value', argv: ['--eps'], want: /^missing value for --eps/ },
    { name: 'positional argument', argv: ['mnist'], want: /^unexpected argument "mnist"/ },
    { name: 'file dataset without --data-dir', argv: ['--dataset', 'cifar10'], want: /^missing --data-dir: dataset cifar10/ },
    { name: 'warm-up longer than training', argv: ['--epochs', '3', '--warmup-epochs', '5'], want: /for --warmup-epochs: expected at most --epochs \(3\)/ },
    { name: 'cosine needs warm-up < epochs', argv: ['--epochs', '3', '--warmup-epochs', '3'], want: /--warmup-epochs: the cosine schedule/ },
    { name: 'unknown backend', argv: ['--backend', 'gpu'], want: /--backend: expected one of auto, tensorflow-gpu, tensorflow, wasm, cpu/ },
    { name: 'L-inf eps above 1 (pixels lie in [0, 1])', argv: ['--eps', '2'], want: /^invalid value 2 for --eps: expected a number in \(0, 1\] for the L-inf attack pgd and its PGD evaluation/ },
    { name: 'L-inf eps above 1 with no training attack (the evaluation is L-inf)', argv: ['--attack', 'none', '--eps', '1.5'], want: /for --eps: expected a number in \(0, 1\] for the L-inf attack none/ },
    { name: 'fgsm-rs eps above 1', argv: ['--attack', 'fgsm-rs', '--eps', '8'], want: /for --eps: expected a number in \(0, 1\]/ },
    { name: 'PGD step size above eps (as the CRD refuses)', argv: ['--eps', '0.1', '--attack-step-size', '0.2'], want: /^invalid value 0.2 for --attack-step-size: expected at most --eps \(0.1\) for pgd/ },
    { name: 'trades step size above eps', argv: ['--attack', 'trades', '--eps', '0.1', '--attack-step-size', '0.2'], want: /for --attack-step-size: expected at most --eps \(0.1\) for trades/ },
    { name: 'step schedule without milestones (as the CRD refuses)', argv: ['--schedule', 'step'], want: /^missing --milestones: --schedule step needs at least one epoch/ },
    { name: 'step schedule with an empty milestone list', argv: ['--schedule', 'step', '--milestones', ''], want: /^missing --milestones/ },
    { name: 'an integer above the stated maximum', argv: ['--checkpoint-every', '2e9'], want: /^invalid value "2e9" for --checkpoint-every: expected an integer in \[1, 1e9\]$/ },
    { name: 'a count above its maximum says so', argv: ['--limit', '1000000001'], want: /for --limit: expected an integer in \[1, 1e9\]$/ },
    { name: 'compression with one worker (as the CRD refuses one replica)', argv: ['--compression', 'sign-ef'], want: /^invalid value sign-ef for --compression: there is nothing to all-reduce with one worker; use --workers 2 or more, or --compression none$/ },
    { name: 'compression in a ring of one', argv: ['--compression', 'fp16'], env: { DAT_WORLD_SIZE: '1' }, want: /for --compression: there is nothing to all-reduce/ },
    { name: 'compression with --workers 1 in a ring member of 1', argv: ['--workers', '1', '--compression', 'majority-vote'], env: { DAT_WORLD_SIZE: '1' }, want: /for --compression/ },
    { name: 'an option a resume may not change', argv: ['--allow-config-change', 'epochs,lr'], want: /for --allow-config-change: expected comma-separated values from epochs, eval-every, eval-attack-steps, eval-restarts, eval-size$/ },
  ];
  for (const c of cases) {
    it(c.name, () => {
      assert.throws(
        () => parseTrainArgs(c.argv, c.env),
        (err: unknown) => {
          assert.ok(err instanceof ConfigError, `got ${String(err)}`);
          assert.match(err.message, c.want);
          assert.ok(!err.message.includes('\n'), 'one line');
          assert.equal(exitCodeFor(err), EXIT_CODES.badConfig);
          return true;
        },
      );
    });
  }
});

describe('formatTrainArgs', () => {
  it('round-trips through parseTrainArgs', () => {
    for (const argv of [[], ['--dataset', 'cifar10', '--data-dir', '/d', '--workers', '2', '--eps', '8/255', '--limit', '64'], ['--epochs', '1'], ['--allow-config-change', 'epochs,eval-every'], ['--final-eval', 'pgd,apgd-t', '--final-eval-examples', '20', '--final-eval-eps', '0']]) {
      const opts = parseTrainArgs(argv);
      assert.deepEqual(parseTrainArgs(formatTrainArgs(opts)), opts);
    }
  });

  it('a launcher child (DAT_WORLD_SIZE set) accepts every command line its parent accepted, with the same options', () => {
    const cases = [
      ['--workers', '2', '--attack-steps', '2'],
      ['--workers', '2', '--attack', 'pgd-l2', '--attack-steps', '1'],
      ['--workers', '2', '--attack-step-size', '0.5'],
      ['--workers', '3', '--dataset', 'cifar10', '--data-dir', '/d', '--epochs', '1'],
      ['--workers', '2', '--schedule', 'step', '--milestones', '11,14'],
      ['--workers', '2', '--eps', '0.2', '--attack-step-size', '0.1'],
      ['--workers', '2', '--final-eval', 'autoattack', '--eps', '0.2'],
      ['--workers', '2', '--attack', 'pgd-l2', '--final-eval', 'square', '--final-eval-eps', '0.25'],
    ];
    for (const argv of cases) {
      const opts = parseTrainArgs(argv);
      assert.deepEqual(parseTrainArgs(formatTrainArgs(opts, ['progress']), { DAT_WORLD_SIZE: String(opts.workers) }), opts, argv.join(' '));
    }
  });

  it('leaves out the values the other options derive, and keeps the given ones', () => {
    assert.deepEqual(formatTrainArgs(parseTrainArgs(['--attack-steps', '2'])), ['--attack-steps=2']);
    assert.deepEqual(formatTrainArgs(parseTrainArgs(['--eps', '0.2', '--attack-step-size', '0.1'])), ['--eps=0.2', '--attack-step-size=0.1']);
  });
});

describe('help', () => {
  it('documents every option with a default', () => {
    const help = formatTrainHelp();
    for (const spec of OPTION_SPECS) assert.ok(help.includes(flagName(spec.key) + ' '), `${flagName(spec.key)} missing from help`);
    assert.equal(help.match(/Default: /g)?.length, OPTION_SPECS.length);
  });

  it('states every range with both bounds, and the L-inf limit of --eps', () => {
    const help = formatTrainHelp();
    assert.doesNotMatch(help, /(integer|number) >=/, 'no range hides its maximum');
    assert.match(help, /--checkpoint-every <int>\n.*\n\s+Accepts an integer in \[1, 1e9\]\./);
    assert.match(help, /--eps <number>\n\s+perturbation radius in \[0,1\] pixel units: L-inf, at most 1, for every attack but pgd-l2/);
    assert.match(help, /--allow-config-change <epochs\|eval-every\|eval-attack-steps\|eval-restarts\|eval-size,\.\.\.>/);
  });

  it('parseCommand routes --help and rejects unknown commands', () => {
    assert.deepEqual(parseCommand([]), { command: 'help' });
    assert.deepEqual(parseCommand(['--help']), { command: 'help' });
    assert.deepEqual(parseCommand(['train', '--eps', '0.1', '--help']), { command: 'help', topic: 'train' });
    assert.throws(() => parseCommand(['fit']), /unknown command "fit": expected train, eval or help/);
  });
});

const runCli = (args: readonly string[]): Promise<EntryRun> => runEntry('worker/main', args);

describe('dat process', () => {
  it('exits 2 with a one-line message on a bad value', { timeout: 60_000 }, async () => {
    const r = await runCli(['train', '--attack', 'cw']);
    assert.equal(r.code, EXIT_CODES.badConfig);
    assert.equal(r.stderr, 'dat: error: invalid value "cw" for --attack: expected one of none, fgsm, fgsm-rs, pgd, pgd-l2, trades\n');
  });

  it('prints the option list for train --help and exits 0', { timeout: 60_000 }, async () => {
    const r = await runCli(['train', '--help']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /--batch-size <int>/);
    assert.match(r.stdout, /--milestones <number-list>/);
  });
});
