#!/usr/bin/env python3
"""Issue 21's benchmark: schema import reads what it needs, not the file.

    cargo build --release && python3 benches/schema_import.py [BINARY]

1. `driftguard infer --parquet` on a 1 GB Parquet file: 1 GiB of holes (a sparse file)
   followed by a real file (tests/fixtures/schemas/parquet/orders_pyarrow.parquet), so its
   footer is real and at the end. Target: under 50 ms and under 1 MB read.
2. `driftguard infer --dbt --model` on a manifest of 5,000 models (the committed
   tests/fixtures/schemas/dbt/manifest.json with its `orders` model copied 5,000 times; the
   model asked for is the last). Target: under 1 s.

Wall time is the best of 5 runs; bytes read are the child's `rchar` (/proc/self/io counts a
waited-for child's reads). Exits 1 if a target is missed.
"""
import copy
import json
import os
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, "target/release/driftguard")
FIXTURES = os.path.join(ROOT, "tests/fixtures/schemas")


def rchar():
    with open("/proc/self/io") as f:
        for line in f:
            if line.startswith("rchar:"):
                return int(line.split()[1])
    raise RuntimeError("no rchar in /proc/self/io")


def measure(args, runs=5):
    """(best wall seconds, bytes read by the child in its last run)."""
    best = float("inf")
    for _ in range(runs):
        before, started = rchar(), time.perf_counter()
        done = subprocess.run([BIN, *args], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        wall, read = time.perf_counter() - started, rchar() - before
        if done.returncode != 0:
            sys.exit(f"{' '.join(args)}: exit {done.returncode}: {done.stderr.decode()}")
        best = min(best, wall)
    return best, read


def main():
    failed = False
    with tempfile.TemporaryDirectory() as work:
        parquet = os.path.join(work, "huge.parquet")
        with open(parquet, "wb") as f:
            f.truncate(1 << 30)
        with open(os.path.join(FIXTURES, "parquet/orders_pyarrow.parquet"), "rb") as src:
            with open(parquet, "ab") as f:
                f.write(src.read())
        wall, read = measure(["infer", "--parquet", parquet])
        holds = wall < 0.050 and read < 1_000_000
        failed |= not holds
        print(f"infer --parquet (1 GiB file): {wall * 1000:.1f} ms, {read} bytes read "
              f"(target < 50 ms, < 1 MB): {'holds' if holds else 'MISSED'}")

        with open(os.path.join(FIXTURES, "dbt/manifest.json")) as f:
            manifest = json.load(f)
        nodes = manifest["nodes"]
        orders = next(k for k, v in nodes.items()
                      if v.get("resource_type") == "model" and v.get("name") == "orders")
        for i in range(5000):
            node = copy.deepcopy(nodes[orders])
            node["name"] = f"orders_{i}"
            node["unique_id"] = f"{orders}_{i}"
            nodes[node["unique_id"]] = node
        big = os.path.join(work, "manifest.json")
        with open(big, "w") as f:
            json.dump(manifest, f)
        size = os.path.getsize(big)
        wall, read = measure(["infer", "--dbt", big, "--model", "orders_4999"])
        holds = wall < 1.0
        failed |= not holds
        print(f"infer --dbt (5,000 models, {size / 1e6:.1f} MB): {wall * 1000:.1f} ms, "
              f"{read} bytes read (target < 1 s): {'holds' if holds else 'MISSED'}")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
