"""PyTorch's brute-force exact search, the yardstick of bench/search.ts: torch.mm of the queries with every key,
then topk. Reads the keys and queries bench/search.ts wrote (raw float32, row-major) and prints one JSON line per
configuration: seconds per query (the best of two runs), the first query's k indices, PyTorch's threads and the
process's peak resident size. Run by bench/search.ts with Debian's python3-torch (/usr/bin/python3).

  /usr/bin/python3 bench/torch_search.py --dir /tmp/tsgpt-search --keys 1048576 --width 128
"""
import argparse
import json
import os
import resource
import time

import numpy as np
import torch

from torch_step import blas_threads  # the OpenBLAS PyTorch has loaded, and its threads

BATCHES = [(1, 8), (16, 32), (256, 256)]  # (queries a call, queries timed), as bench/search.ts
KS = [32, 1024]
SCORES = ["dot", "l2"]


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--dir", required=True)
    parser.add_argument("--keys", type=int, required=True)
    parser.add_argument("--width", type=int, required=True)
    a = parser.parse_args()
    keys = torch.from_numpy(np.fromfile(os.path.join(a.dir, "keys.f32"), dtype=np.float32).reshape(a.keys, a.width))
    queries = torch.from_numpy(np.fromfile(os.path.join(a.dir, "queries.f32"), dtype=np.float32).reshape(-1, a.width))
    key_norms = (keys * keys).sum(1)

    def search(q, k, score):
        s = torch.mm(q, keys.t())
        if score == "l2":
            s = 2 * s - key_norms - (q * q).sum(1, keepdim=True)
        return torch.topk(s, k, dim=1)

    with torch.no_grad():
        for score in SCORES:
            for k in KS:
                for batch, count in BATCHES:
                    best = float("inf")
                    first = None
                    for _ in range(2):
                        start = time.perf_counter()
                        for q0 in range(0, count, batch):
                            found = search(queries[q0 : q0 + batch], k, score)
                            if first is None:
                                first = found.indices[0].tolist()
                        best = min(best, (time.perf_counter() - start) / count)
                    print(
                        json.dumps(
                            {
                                "config": f"{score} batch {batch} k {k}",
                                "seconds": best,
                                "first": first,
                                "threads": torch.get_num_threads(),
                                "blas_threads": blas_threads(),
                                "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                            }
                        ),
                        flush=True,
                    )


if __name__ == "__main__":
    main()
