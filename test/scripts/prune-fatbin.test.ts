/**
 * scripts/tfjs-node/prune-fatbin.py on a small ELF file built here: per fat binary container
 * it keeps the SASS for the target GPU, or else the newest PTX at or below it, zeroes every
 * other payload, and leaves a file it cannot parse untouched.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { REPO_ROOT } from '../support/paths.js';

const SCRIPT = join(REPO_ROOT, 'scripts', 'tfjs-node', 'prune-fatbin.py');
const PTX = 1;
const SASS = 2;
const PAYLOAD = 32;

interface Entry { readonly kind: number; readonly sm: number }
interface Layout { readonly file: Buffer; readonly payloadAt: number[] }

function entryBytes(e: Entry, fill: number): Buffer {
  const header = Buffer.alloc(64);
  header.writeUInt16LE(e.kind, 0);
  header.writeUInt16LE(0x0101, 2);
  header.writeUInt32LE(64, 4);
  header.writeBigUInt64LE(BigInt(PAYLOAD), 8);
  header.writeUInt32LE(e.sm, 28);
  return Buffer.concat([header, Buffer.alloc(PAYLOAD, fill)]);
}

/** An ELF64 file whose .nv_fatbin section holds one container per list, with 8 bytes of padding between them. */
function elfWithFatbins(containers: readonly Entry[][]): Layout {
  const names = Buffer.from('\0.shstrtab\0.nv_fatbin\0');
  const parts: Buffer[] = [];
  const payloadAt: number[] = [];
  let offset = 64 + names.length + ((8 - ((64 + names.length) % 8)) % 8);
  const sectionStart = offset;
  let fill = 1;
  for (const entries of containers) {
    const body = Buffer.concat(entries.map((e) => entryBytes(e, fill++)));
    const head = Buffer.alloc(16);
    head.writeUInt32LE(0xba55ed50, 0);
    head.writeUInt16LE(1, 4);
    head.writeUInt16LE(16, 6);
    head.writeBigUInt64LE(BigInt(body.length), 8);
    entries.forEach((_, i) => payloadAt.push(offset + 16 + i * (64 + PAYLOAD) + 64));
    parts.push(head, body, Buffer.alloc(8));
    offset += 16 + body.length + 8;
  }
  const fatbin = Buffer.concat(parts);
  const shoff = sectionStart + fatbin.length;
  const section = (name: number, at: number, size: number): Buffer => {
    const h = Buffer.alloc(64);
    h.writeUInt32LE(name, 0);
    h.writeUInt32LE(1, 4);
    h.writeBigUInt64LE(BigInt(at), 24);
    h.writeBigUInt64LE(BigInt(size), 32);
    return h;
  };
  const header = Buffer.alloc(64);
  Buffer.from([0x7f, 0x45, 0x4c, 0x46, 2, 1, 1]).copy(header);
  header.writeBigUInt64LE(BigInt(shoff), 0x28);
  header.writeUInt16LE(64, 0x3a);
  header.writeUInt16LE(3, 0x3c);
  header.writeUInt16LE(1, 0x3e);
  const pad = Buffer.alloc(sectionStart - 64 - names.length);
  const file = Buffer.concat([header, names, pad, fatbin, section(0, 0, 0), section(1, 64, names.length), section(11, sectionStart, fatbin.length)]);
  return { file, payloadAt };
}

function prune(file: Buffer, sm: number): { status: number | null; out: string; after: Buffer } {
  const dir = mkdtempSync(join(tmpdir(), 'prune-fatbin-'));
  try {
    const path = join(dir, 'libx.so');
    writeFileSync(path, file);
    const r = spawnSync('python3', [SCRIPT, '--sm', String(sm), path], { encoding: 'utf8' });
    return { status: r.status, out: r.stdout + r.stderr, after: readFileSync(path) };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const kept = (layout: Layout, after: Buffer): boolean[] => layout.payloadAt.map((at) => after.subarray(at, at + PAYLOAD).some((b) => b !== 0));

describe('prune-fatbin.py', () => {
  const cases: { name: string; sm: number; containers: Entry[][]; want: boolean[] }[] = [
    {
      name: 'SASS for the target wins over every other entry',
      sm: 90,
      containers: [[{ kind: SASS, sm: 80 }, { kind: SASS, sm: 90 }, { kind: PTX, sm: 90 }]],
      want: [false, true, false],
    },
    {
      name: 'without SASS for it, the newest PTX at or below the target',
      sm: 90,
      containers: [[{ kind: SASS, sm: 75 }, { kind: PTX, sm: 70 }, { kind: PTX, sm: 80 }]],
      want: [false, false, true],
    },
    {
      name: 'nothing the target can load: all zeroed',
      sm: 80,
      containers: [[{ kind: SASS, sm: 90 }, { kind: PTX, sm: 90 }]],
      want: [false, false],
    },
    {
      name: 'each container on its own',
      sm: 90,
      containers: [[{ kind: SASS, sm: 90 }], [{ kind: SASS, sm: 86 }, { kind: PTX, sm: 86 }]],
      want: [true, false, true],
    },
  ];
  for (const c of cases) {
    test(c.name, () => {
      const layout = elfWithFatbins(c.containers);
      const r = prune(layout.file, c.sm);
      assert.equal(r.status, 0, r.out);
      assert.deepEqual(kept(layout, r.after), c.want);
      assert.equal(r.after.length, layout.file.length);
      // Only payloads change: headers, offsets and everything outside the entries stay.
      const mask = (b: Buffer): Buffer => {
        const m = Buffer.from(b);
        for (const at of layout.payloadAt) m.fill(0, at, at + PAYLOAD);
        return m;
      };
      assert.deepEqual(mask(r.after), mask(layout.file));
    });
  }

  test('an entry of unknown kind fails and leaves the file as it was', () => {
    const layout = elfWithFatbins([[{ kind: SASS, sm: 90 }, { kind: SASS, sm: 80 }], [{ kind: 7, sm: 90 }]]);
    const r = prune(layout.file, 90);
    assert.equal(r.status, 1);
    assert.match(r.out, /unknown fat binary entry \(kind 7\)/);
    assert.deepEqual(r.after, layout.file);
  });

  test('a file that is not ELF fails with its name', () => {
    const r = prune(Buffer.from('INPUT(libfoo.so)\n'), 90);
    assert.equal(r.status, 1);
    assert.match(r.out, /libx\.so: not a 64-bit little-endian ELF file/);
  });
});
