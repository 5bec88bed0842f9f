import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { identityReducer } from '../../../../worker/comm/collective.js';
import { selectBackend } from '../../../../worker/backend/select-backend.js';
import { parseTrainArgs } from '../../../../worker/cli/parse-args.js';
import { runTraining } from '../../../../worker/train/run-training.js';
import { createLogger, silentLogger } from '../../../../common/log.js';

/**
 * Rank 0 of 2 in this process: the ring is the identity (each rank's mean is its own
 * gradient), which is all setup's choices need. 160 digits at 2 x 16 give 5 steps per epoch, 10 in all.
 */
async function rankZeroOfTwo(args: readonly string[]): Promise<string[]> {
  await selectBackend('wasm', silentLogger);
  const lines: string[] = [];
  const opts = parseTrainArgs([
    ...['--limit', '160', '--test-size', '32', '--batch-size', '16', '--epochs', '2', '--model', 'mlp', '--attack', 'fgsm-rs', '--eval-size', '16'],
    ...['--eval-attack-steps', '1', '--optimizer', 'lamb', '--output', join(tmpdir(), `dat-setup-${process.pid}`), ...args],
  ], { DAT_WORLD_SIZE: '2' });
  await runTraining(opts, { rank: 0, worldSize: 2, reducer: identityReducer, log: createLogger({}, (l) => lines.push(l)), isChief: false });
  return lines;
}

const CASES: readonly { name: string; args: readonly string[]; freezes: boolean; warnsNeverCompressed: boolean; warnsEarlyFreeze: boolean }[] = [
  {
    name: 'LAMB + sign-ef: the ring carries the moment, v freezes after the warm-up, and a warm-up this short is warned about',
    args: ['--compression', 'sign-ef', '--compression-warmup-steps', '3'],
    freezes: true,
    warnsNeverCompressed: false,
    warnsEarlyFreeze: true,
  },
  { name: 'LAMB + qsgd8: the optimizer keeps its moments', args: ['--compression', 'qsgd8', '--compression-warmup-steps', '3'], freezes: false, warnsNeverCompressed: false, warnsEarlyFreeze: false },
  {
    name: 'a warm-up as long as the run: it never compresses, and says so (no freeze to warn about)',
    args: ['--compression', 'sign-ef', '--compression-warmup-steps', '10'],
    freezes: true,
    warnsNeverCompressed: true,
    warnsEarlyFreeze: false,
  },
  { name: 'no compression: no warm-up to warn about', args: ['--compression-warmup-steps', '100'], freezes: false, warnsNeverCompressed: false, warnsEarlyFreeze: false },
];

describe('setupRun: the optimizer and warm-up a distributed run gets', () => {
  for (const c of CASES) {
    it(c.name, { timeout: 60_000 }, async () => {
      const lines = await rankZeroOfTwo(c.args);
      const freeze = lines.find((l) => l.includes('freezes its second moment after the uncompressed warm-up'));
      assert.equal(freeze !== undefined, c.freezes, lines.join('\n'));
      if (freeze !== undefined) assert.match(freeze, /compressionWarmupSteps=\d+/);
      const never = lines.find((l) => l.includes('never compresses'));
      assert.equal(never !== undefined, c.warnsNeverCompressed, lines.join('\n'));
      if (never !== undefined) assert.match(never, /WARN.*totalSteps=10/);
      const early = lines.find((l) => l.includes("LAMB's second moment freezes after only"));
      assert.equal(early !== undefined, c.warnsEarlyFreeze, lines.join('\n'));
      if (early !== undefined) assert.match(early, /WARN.*after only 3 uncompressed steps.*against 200/);
    });
  }
});
