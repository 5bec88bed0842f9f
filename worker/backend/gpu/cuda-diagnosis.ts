/**
 * Why tfjs-node-gpu found no CUDA device, in one line.
 *
 * libtensorflow looks for a GPU when the binding loads, and on failure only
 * logs (at a level the worker hides) and computes on the CPU. The binding
 * then says `isUsingGpuDevice === false` and nothing more. This module looks
 * at what TensorFlow needed, in the order it needs it, and says what it
 * found: the NVIDIA driver's user-space library (libcuda.so.1, from the
 * host or the NVIDIA container toolkit), the kernel driver and its device
 * nodes, and the CUDA/cuDNN runtime libraries that
 * scripts/install-tfjs-node.sh --gpu places beside libtensorflow.
 *
 * Pure apart from the {@link CudaProbe} it is given, so tests run it on a
 * fake filesystem.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * The CUDA 11 / cuDNN 8 sonames libtensorflow 2.9.1 dlopens before it
 * registers a GPU (all or none). Equal to CUDA_REQUIRED_SONAMES in
 * scripts/tfjs-node/versions.env (a test checks).
 */
export const CUDA_REQUIRED_SONAMES = [
  'libcudart.so.11.0',
  'libcublas.so.11',
  'libcublasLt.so.11',
  'libcufft.so.10',
  'libcurand.so.10',
  'libcusolver.so.11',
  'libcusparse.so.11',
  'libcudnn.so.8',
] as const;

/** The NVIDIA driver's user-space library, which the CUDA runtime opens first. */
export const DRIVER_LIBRARY = 'libcuda.so.1';

/**
 * Where libcuda.so.1 lives besides the loader cache and LD_LIBRARY_PATH:
 * Debian/Ubuntu and RHEL driver packages, the NVIDIA device plugin's and
 * GPU operator's mount point, and WSL.
 */
export const DRIVER_LIBRARY_DIRS = ['/usr/lib/x86_64-linux-gnu', '/usr/lib64', '/usr/lib', '/lib/x86_64-linux-gnu', '/usr/local/nvidia/lib64', '/usr/lib/wsl/lib'] as const;

const LD_SO_CACHE = '/etc/ld.so.cache';
const KERNEL_DRIVER_VERSION = '/proc/driver/nvidia/version';
const DEVICE_NODE = /^nvidia\d+$/;

/** The filesystem and environment the diagnosis reads. */
export interface CudaProbe {
  exists(path: string): boolean;
  /** A file's text (latin1, so binary files survive), or undefined when it cannot be read. */
  readText(path: string): string | undefined;
  /** A directory's entry names, or [] when it cannot be read. */
  listDir(path: string): readonly string[];
  readonly env: NodeJS.ProcessEnv;
}

/** What was found. */
export interface CudaFindings {
  /** CUDA_VISIBLE_DEVICES when it hides every device ('' or -1). */
  readonly hiddenBy?: string;
  /** Path of libcuda.so.1, if any. */
  readonly driverLibrary?: string;
  /** NVIDIA kernel module version, or 'unknown' when its version file has another shape. */
  readonly kernelDriver?: string;
  /** /dev/nvidiaN nodes present. */
  readonly deviceNodes: readonly string[];
  /** Where the CUDA runtime libraries were looked for (tfjs-node-gpu's deps/lib), if known. */
  readonly runtimeDir?: string;
  /** Required sonames missing from runtimeDir. */
  readonly missingRuntime: readonly string[];
}

/** The real filesystem and `env`. */
export function systemCudaProbe(env: NodeJS.ProcessEnv = process.env): CudaProbe {
  return {
    exists: existsSync,
    readText: (path) => {
      try {
        return readFileSync(path, 'latin1');
      } catch {
        return undefined;
      }
    },
    listDir: (path) => {
      try {
        return readdirSync(path);
      } catch {
        return [];
      }
    },
    env,
  };
}

/** Paths of libcuda.so.1 listed in the dynamic loader's cache (a binary file of NUL-terminated strings). */
function driverLibrariesInLoaderCache(cache: string | undefined): string[] {
  if (cache === undefined) return [];
  return cache.match(/\/[^\0]*\/libcuda\.so\.1(?=\0)/g) ?? [];
}

function findDriverLibrary(probe: CudaProbe): string | undefined {
  const fromEnv = (probe.env.LD_LIBRARY_PATH ?? '').split(':').filter((d) => d !== '');
  const candidates = [...fromEnv.map((d) => join(d, DRIVER_LIBRARY)), ...driverLibrariesInLoaderCache(probe.readText(LD_SO_CACHE)), ...DRIVER_LIBRARY_DIRS.map((d) => join(d, DRIVER_LIBRARY))];
  return candidates.find((p) => probe.exists(p));
}

function readKernelDriver(probe: CudaProbe): string | undefined {
  const text = probe.readText(KERNEL_DRIVER_VERSION);
  if (text === undefined) return undefined;
  return /Kernel Module\s+(?:for \S+\s+)?([\d.]+)/.exec(text)?.[1] ?? 'unknown';
}

/** Step 1-4 of the module comment: visibility, driver library, kernel driver and device nodes, runtime libraries. */
export function findCuda(probe: CudaProbe, runtimeDir: string | undefined): CudaFindings {
  const visible = probe.env.CUDA_VISIBLE_DEVICES;
  const hidden = visible !== undefined && (visible.trim() === '' || visible.trim() === '-1');
  const driverLibrary = findDriverLibrary(probe);
  const kernelDriver = readKernelDriver(probe);
  return {
    ...(hidden ? { hiddenBy: visible } : {}),
    ...(driverLibrary !== undefined ? { driverLibrary } : {}),
    ...(kernelDriver !== undefined ? { kernelDriver } : {}),
    deviceNodes: probe
      .listDir('/dev')
      .filter((n) => DEVICE_NODE.test(n))
      .sort()
      .map((n) => `/dev/${n}`),
    ...(runtimeDir !== undefined ? { runtimeDir } : {}),
    missingRuntime: runtimeDir === undefined ? [...CUDA_REQUIRED_SONAMES] : CUDA_REQUIRED_SONAMES.filter((so) => !probe.exists(join(runtimeDir, so))),
  };
}

/** The findings as one line: what is missing first, then what was found (pure). */
export function describeCudaFindings(f: CudaFindings): string {
  const parts: string[] = [];
  if (f.hiddenBy !== undefined) parts.push(`CUDA_VISIBLE_DEVICES=${JSON.stringify(f.hiddenBy)} hides every device`);
  parts.push(
    f.driverLibrary === undefined
      ? `NVIDIA driver library ${DRIVER_LIBRARY} not found (loader cache, LD_LIBRARY_PATH, ${DRIVER_LIBRARY_DIRS.join(', ')})`
      : `driver library ${f.driverLibrary}`,
  );
  parts.push(f.kernelDriver === undefined ? `no NVIDIA kernel driver (${KERNEL_DRIVER_VERSION} missing)` : `NVIDIA kernel driver ${f.kernelDriver}`);
  parts.push(f.deviceNodes.length === 0 ? 'no /dev/nvidiaN device nodes' : `device nodes ${f.deviceNodes.join(', ')}`);
  const where = f.runtimeDir ?? "tfjs-node-gpu's deps/lib";
  parts.push(
    f.missingRuntime.length === 0
      ? `CUDA 11 and cuDNN 8 runtime libraries present in ${where}`
      : `CUDA runtime libraries missing from ${where}: ${f.missingRuntime.join(', ')} (run scripts/install-tfjs-node.sh --gpu)`,
  );
  const allThere = f.hiddenBy === undefined && f.driverLibrary !== undefined && f.kernelDriver !== undefined && f.deviceNodes.length > 0 && f.missingRuntime.length === 0;
  // Everything in place and still no device: TensorFlow's own log says why (driver too old, cuInit error, ...).
  if (allThere) parts.push('TensorFlow still found no usable device: rerun with TF_CPP_MIN_LOG_LEVEL=0 to see its CUDA messages');
  return parts.join('; ');
}
