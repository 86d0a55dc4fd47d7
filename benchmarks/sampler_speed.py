"""Time to draw one epoch's batches (``modbench.engine.sampler.epoch_batches``), per sampler.

Labels: digits-sized (1,293 images, 10 classes) and CIFAR-sized (45,000 training images, 10 and
100 classes); batch 128, m 4. Median of ``--repeat`` draws, milliseconds.

    python benchmarks/sampler_speed.py [--repeat 5]

To time another version of the sampler, put its tree first on PYTHONPATH, e.g. the one before
issue 5: ``git archive 87b1a0b | tar -x -C /tmp/old && PYTHONPATH=/tmp/old python
benchmarks/sampler_speed.py``.
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch

from modbench.engine.sampler import epoch_batches


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    g = torch.Generator().manual_seed(0)
    print(f"{'labels':>8s} {'classes':>8s} {'sampler':>12s} {'batches':>8s} {'ms per epoch':>13s}")
    for n, classes in ((1293, 10), (45_000, 10), (45_000, 100)):
        labels = torch.randint(0, classes, (n,), generator=g)
        for sampler in ("random", "m-per-class"):
            times = []
            for seed in range(args.repeat):
                t0 = time.perf_counter()
                batches = epoch_batches(labels, batch_size=128, sampler=sampler, m=4,
                                        generator=torch.Generator().manual_seed(seed))
                times.append(time.perf_counter() - t0)
            print(f"{n:8d} {classes:8d} {sampler:>12s} {len(batches):8d} {statistics.median(times) * 1e3:13.1f}")


if __name__ == "__main__":
    main()
