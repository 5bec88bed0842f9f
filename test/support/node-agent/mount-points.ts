/**
 * Mount points on the host for pod volumes: a bind mount needs its target to
 * exist, and a pod's mount namespace shares the host's filesystem, so missing
 * targets (e.g. `/checkpoints`) are created on the host. This tracker remembers
 * what it created so that the agent leaves the host as it found it.
 */
import { existsSync, mkdirSync, rmdirSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';

/** Creates missing mount points and removes them again on {@link MountPointTracker.cleanup}. */
export class MountPointTracker {
  private readonly created: string[] = [];

  /** Creates `target` (a dir, or an empty file when `isFile`) and its missing parents, recording each. */
  ensure(target: string, isFile: boolean): void {
    const missing: string[] = [];
    for (let p = isFile ? dirname(target) : target; !existsSync(p); p = dirname(p)) missing.unshift(p);
    for (const d of missing) {
      mkdirSync(d);
      this.created.push(d);
    }
    if (isFile && !existsSync(target)) {
      writeFileSync(target, '');
      this.created.push(target);
    }
  }

  /** Removes what {@link ensure} created, deepest first; anything that gained content is left alone. */
  cleanup(onError: (path: string, err: unknown) => void = () => undefined): void {
    for (const p of this.created.reverse()) {
      try {
        if (statSync(p).isDirectory()) rmdirSync(p);
        else if (statSync(p).size === 0) unlinkSync(p);
      } catch (err) {
        // Not empty, or already gone: leave it.
        onError(p, err);
      }
    }
    this.created.length = 0;
  }
}
