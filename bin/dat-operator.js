#!/usr/bin/env node
// The `dat-operator` command: a thin shim onto the compiled operator entry point.
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const entry = join(root, 'dist', 'operator', 'main.js');
if (!existsSync(entry)) {
  console.error('dat-operator: the project is not built yet; run `npm run build` first');
  process.exit(2);
}
await import(entry);
