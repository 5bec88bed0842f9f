#!/usr/bin/env -S node --no-incremental-marking
// The `dat` command: a thin shim onto the compiled CLI so `npx dat` works after `npm run build`.
// The shebang's node flags are WORKER_NODE_FLAGS (worker/util/node-flags.ts; a test keeps them equal).
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const entry = join(root, 'dist', 'worker', 'main.js');
if (!existsSync(entry)) {
  console.error('dat: the project is not built yet; run `npm run build` first (or `npm run demo`)');
  process.exit(2);
}
await import(entry);
