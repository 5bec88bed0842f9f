"""The gloo column of `npm run bench:allreduce`.

Runs torch.distributed's all_reduce (sum, float32) with the gloo backend over
loopback, N processes on this machine, with the same protocol as the
project's rings in bench/allreduce.ts: per buffer size one warm-up all-reduce,
then `iters` timed ones, each after a barrier; rank 0 prints one JSON line per
size, {"event": "allreduce", "mib", "seconds", "cpuSeconds"}.

Usage: python gloo_allreduce.py --n 3 --sizes 1,16,64 --iters 8,8,4
"""
import argparse
import json
import os
import socket
import sys
import time

MIB = 1024 * 1024


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def peer(rank: int, world: int, port: int, sizes: list[float], iters: list[int]) -> None:
    import torch
    import torch.distributed as dist

    dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank, world_size=world)
    for mib, n_iter in zip(sizes, iters):
        buf = torch.full((round(mib * MIB) // 4,), float(rank + 1), dtype=torch.float32)
        check = buf.clone()
        dist.all_reduce(check)
        want = world * (world + 1) / 2
        if check[0].item() != want or check[-1].item() != want:
            raise RuntimeError(f"wrong sum {check[0].item()} at {mib} MiB")
        seconds, cpu = [], []
        for _ in range(n_iter):
            work = buf.clone()
            dist.barrier()
            t0, c0 = time.perf_counter(), time.process_time()
            dist.all_reduce(work)
            cpu.append(time.process_time() - c0)
            seconds.append(time.perf_counter() - t0)
        if rank == 0:
            print(json.dumps({"event": "allreduce", "mib": mib, "seconds": seconds, "cpuSeconds": cpu}), flush=True)
    dist.barrier()
    dist.destroy_process_group()


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--n", type=int, required=True)
    p.add_argument("--sizes", required=True, help="comma-separated MiB")
    p.add_argument("--iters", required=True, help="comma-separated, one per size")
    p.add_argument("--rank", type=int, default=-1, help=argparse.SUPPRESS)
    p.add_argument("--port", type=int, default=0, help=argparse.SUPPRESS)
    a = p.parse_args()
    # MiB, possibly fractional (a few floats for the latency rows): exact binary fractions.
    sizes = [float(s) for s in a.sizes.split(",")]
    iters = [int(s) for s in a.iters.split(",")]
    if a.rank >= 0:
        peer(a.rank, a.n, a.port, sizes, iters)
        return
    # Separate processes (not fork): each rank starts like a Node peer does.
    import subprocess

    port = free_port()
    args = [sys.executable, os.path.abspath(__file__), "--n", str(a.n), "--sizes", a.sizes, "--iters", a.iters, "--port", str(port)]
    procs = [subprocess.Popen(args + ["--rank", str(r)], stdout=None if r == 0 else subprocess.DEVNULL) for r in range(a.n)]
    codes = [proc.wait() for proc in procs]
    if any(codes):
        sys.exit(f"gloo ring of {a.n}: ranks exited with {codes}")


if __name__ == "__main__":
    main()
