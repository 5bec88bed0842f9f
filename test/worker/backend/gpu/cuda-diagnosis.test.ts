/**
 * gpu/cuda-diagnosis.ts: what a node without a usable CUDA device has and
 * lacks, on fake filesystems (table-driven), and the soname list kept equal
 * to the one scripts/install-tfjs-node.sh installs.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { CUDA_REQUIRED_SONAMES, describeCudaFindings, findCuda, type CudaProbe } from '../../../../worker/backend/gpu/cuda-diagnosis.js';
import { REPO_ROOT } from '../../../support/paths.js';

const RUNTIME = '/app/node_modules/@tensorflow/tfjs-node-gpu/deps/lib';
const ALL_RUNTIME = CUDA_REQUIRED_SONAMES.map((so) => `${RUNTIME}/${so}`);

/** A probe over a set of existing files, file contents and /dev entries. */
function fakeProbe(opts: { files?: readonly string[]; texts?: Record<string, string>; dev?: readonly string[]; env?: NodeJS.ProcessEnv }): CudaProbe {
  const files = new Set([...(opts.files ?? []), ...Object.keys(opts.texts ?? {})]);
  return {
    exists: (p) => files.has(p),
    readText: (p) => opts.texts?.[p],
    listDir: (p) => (p === '/dev' ? (opts.dev ?? ['null', 'tty']) : []),
    env: opts.env ?? {},
  };
}

const DRIVER_VERSION = 'NVRM version: NVIDIA UNIX x86_64 Kernel Module  550.54.15  Tue Mar  5 22:23:56 UTC 2024\n';

describe('findCuda and describeCudaFindings', () => {
  const cases = [
    {
      name: 'a CPU-only node with the runtime libraries installed (CI, a GPU image on a CPU node)',
      probe: fakeProbe({ files: ALL_RUNTIME }),
      want: [/^NVIDIA driver library libcuda\.so\.1 not found/, /no NVIDIA kernel driver/, /no \/dev\/nvidiaN device nodes/, /CUDA 11 and cuDNN 8 runtime libraries present in \/app/],
      notWant: /TF_CPP_MIN_LOG_LEVEL/,
    },
    {
      name: 'a GPU node whose binding lacks cuDNN',
      probe: fakeProbe({
        files: ALL_RUNTIME.filter((p) => !p.endsWith('libcudnn.so.8')).concat('/usr/lib/x86_64-linux-gnu/libcuda.so.1'),
        texts: { '/proc/driver/nvidia/version': DRIVER_VERSION },
        dev: ['nvidia1', 'nvidia0', 'nvidiactl', 'nvidia-uvm'],
      }),
      want: [/^driver library \/usr\/lib\/x86_64-linux-gnu\/libcuda\.so\.1/, /NVIDIA kernel driver 550\.54\.15/, /device nodes \/dev\/nvidia0, \/dev\/nvidia1;/, /missing from .*: libcudnn\.so\.8 \(run scripts\/install-tfjs-node\.sh --gpu\)/],
      notWant: /TF_CPP_MIN_LOG_LEVEL/,
    },
    {
      name: 'the driver library found through LD_LIBRARY_PATH',
      probe: fakeProbe({ files: [...ALL_RUNTIME, '/opt/drv/libcuda.so.1'], env: { LD_LIBRARY_PATH: ':/opt/drv' } }),
      want: [/^driver library \/opt\/drv\/libcuda\.so\.1/],
      notWant: /not found/,
    },
    {
      name: 'the driver library found through the loader cache',
      probe: fakeProbe({ files: [...ALL_RUNTIME, '/usr/lib/nvidia/libcuda.so.1'], texts: { '/etc/ld.so.cache': 'glibc-ld.so.cache1.1\0libcuda.so.1\0/usr/lib/nvidia/libcuda.so.1\0libz.so.1\0/lib/libz.so.1\0' } }),
      want: [/^driver library \/usr\/lib\/nvidia\/libcuda\.so\.1/],
      notWant: /not found/,
    },
    {
      name: 'CUDA_VISIBLE_DEVICES hides every device',
      probe: fakeProbe({ files: ALL_RUNTIME, env: { CUDA_VISIBLE_DEVICES: '' } }),
      want: [/^CUDA_VISIBLE_DEVICES="" hides every device; /],
      notWant: /TF_CPP_MIN_LOG_LEVEL/,
    },
    {
      name: 'everything present and still no device: points at TensorFlow\'s own log',
      probe: fakeProbe({ files: [...ALL_RUNTIME, '/usr/lib64/libcuda.so.1'], texts: { '/proc/driver/nvidia/version': DRIVER_VERSION }, dev: ['nvidia0'] }),
      want: [/TensorFlow still found no usable device: rerun with TF_CPP_MIN_LOG_LEVEL=0/],
      notWant: /not found|missing|no NVIDIA/,
    },
  ];
  for (const c of cases) {
    test(c.name, () => {
      const line = describeCudaFindings(findCuda(c.probe, RUNTIME));
      assert.ok(!line.includes('\n'), 'one line');
      for (const re of c.want) assert.match(line, re);
      assert.doesNotMatch(line, c.notWant);
    });
  }

  test('without tfjs-node-gpu every runtime library is missing', () => {
    const f = findCuda(fakeProbe({}), undefined);
    assert.deepEqual(f.missingRuntime, [...CUDA_REQUIRED_SONAMES]);
    assert.match(describeCudaFindings(f), /missing from tfjs-node-gpu's deps\/lib: libcudart\.so\.11\.0, /);
  });

  test('a kernel driver version file of another shape still counts as a driver', () => {
    const f = findCuda(fakeProbe({ texts: { '/proc/driver/nvidia/version': 'something else\n' } }), RUNTIME);
    assert.equal(f.kernelDriver, 'unknown');
  });
});

test('CUDA_REQUIRED_SONAMES equals the list scripts/install-tfjs-node.sh installs', () => {
  const env = readFileSync(join(REPO_ROOT, 'scripts', 'tfjs-node', 'versions.env'), 'utf8');
  const m = /^CUDA_REQUIRED_SONAMES="([^"]*)"$/m.exec(env);
  assert.ok(m, 'versions.env has no CUDA_REQUIRED_SONAMES');
  assert.deepEqual(m[1]!.split(/\s+/), [...CUDA_REQUIRED_SONAMES]);
});
