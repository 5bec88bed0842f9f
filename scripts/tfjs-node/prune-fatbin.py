#!/usr/bin/env python3
"""Zero the GPU code a given GPU cannot use in CUDA libraries, in place (what nvprune does
for static libraries, for shared ones).

scripts/gpu-bundle.sh uses it to carry libtensorflow and the CUDA runtime to an air-gapped
GPU host in a fraction of their size: the libraries keep every host byte and the device
code that GPU loads, and the zeroed rest compresses to nothing.

A CUDA fat binary (the ELF sections .nv_fatbin and __nv_relfatbin) is a run of containers,
each a 16-byte header (magic 0xBA55ED50, version, header size, payload size) followed by
entries: SASS (machine code, kind 2) or PTX (kind 1), each for one architecture. For an
sm_XY GPU the driver loads the entry with SASS for XY when a container has one, and else
JIT-compiles its newest PTX at or below XY; SASS for another major architecture never runs
there. So, per container: with SASS for the target, keep that entry; without, keep the
newest PTX at or below the target. Every other payload is zeroed; headers stay as they were,
so sizes and offsets do not move.

Usage: prune-fatbin.py --sm 90 FILE...   (prints one summary line; exits 1 on a layout it
does not recognise, leaving that file unchanged)
"""
import argparse
import mmap
import os
import struct
import sys

FATBIN_MAGIC = 0xBA55ED50
KIND_PTX, KIND_SASS = 1, 2
SECTIONS = ('.nv_fatbin', '__nv_relfatbin')


class LayoutError(Exception):
    pass


def elf_sections(buf):
    """Name -> (file offset, size) of a 64-bit little-endian ELF's sections."""
    if buf[:4] != b'\x7fELF' or buf[4] != 2 or buf[5] != 1:
        raise LayoutError('not a 64-bit little-endian ELF file')
    (shoff,) = struct.unpack_from('<Q', buf, 0x28)
    shentsize, shnum, shstrndx = struct.unpack_from('<HHH', buf, 0x3A)
    headers = [struct.unpack_from('<IIQQQQIIQQ', buf, shoff + i * shentsize) for i in range(shnum)]
    names_at = headers[shstrndx][4]
    out = {}
    for h in headers:
        start = names_at + h[0]
        out[bytes(buf[start:buf.find(b'\0', start)]).decode()] = (h[4], h[5])
    return out


def containers(buf, offset, size):
    """Each fat binary container in a section, as a list of (entry offset, kind, sm, header size, payload size)."""
    end, p = offset + size, offset
    while p + 16 <= end:
        magic, _version, header_size, payload_size = struct.unpack_from('<IHHQ', buf, p)
        if magic != FATBIN_MAGIC:
            p += 8  # containers are 8-byte aligned, with zero padding between them
            continue
        q, stop, entries = p + header_size, p + header_size + payload_size, []
        while q < stop:
            kind, _v, entry_header, entry_payload = struct.unpack_from('<HHIQ', buf, q)
            (sm,) = struct.unpack_from('<I', buf, q + 28)
            if kind not in (KIND_PTX, KIND_SASS) or entry_header < 64:
                raise LayoutError(f'unknown fat binary entry (kind {kind}) at {q:#x}')
            entries.append((q, kind, sm, entry_header, entry_payload))
            q += entry_header + entry_payload
        if q != stop:
            raise LayoutError(f'fat binary container at {p:#x} overruns its size')
        yield entries
        p = stop


def kept_entries(entries, sm):
    """The entries an sm_<sm> GPU may load from this container (none when it can use none)."""
    sass = [e for e in entries if e[1] == KIND_SASS and e[2] == sm]
    if sass:
        return sass
    ptx = [e for e in entries if e[1] == KIND_PTX and e[2] <= sm]
    newest = max((e[2] for e in ptx), default=None)
    return [e for e in ptx if e[2] == newest]


def plan(buf, sm):
    """(kept bytes, [(payload offset, size)] to zero) for one file; raises LayoutError."""
    sections = elf_sections(buf)
    kept, zero = 0, []
    for name in SECTIONS:
        if name not in sections:
            continue
        for entries in containers(buf, *sections[name]):
            keep = kept_entries(entries, sm)
            for e in entries:
                if any(e is k for k in keep):
                    kept += e[4]
                else:
                    zero.append((e[0] + e[3], e[4]))
    return kept, zero


def prune(path, sm):
    with open(path, 'r+b') as f, mmap.mmap(f.fileno(), 0) as buf:
        kept, zero = plan(buf, sm)  # the whole plan first: a bad layout leaves the file untouched
        for offset, size in zero:
            buf[offset:offset + size] = bytes(size)
        buf.flush()
    return kept, sum(size for _, size in zero)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    ap.add_argument('--sm', type=int, required=True, help='the GPU architecture, e.g. 90 for Hopper')
    ap.add_argument('files', nargs='+')
    args = ap.parse_args()
    kept = zeroed = 0
    for path in args.files:
        if os.path.islink(path):
            continue
        try:
            k, z = prune(path, args.sm)
        except LayoutError as err:
            print(f'prune-fatbin: {path}: {err}', file=sys.stderr)
            return 1
        kept, zeroed = kept + k, zeroed + z
    mib = 1 << 20
    print(f'prune-fatbin: sm_{args.sm}: kept {kept // mib} MiB of GPU code, zeroed {zeroed // mib} MiB '
          f'in {len(args.files)} files')
    return 0


if __name__ == '__main__':
    sys.exit(main())
