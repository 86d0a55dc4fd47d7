#!/usr/bin/env python
"""Write tiny CIFAR-10, CIFAR-100 and Fashion-MNIST files, in their genuine on-disk formats,
into DIR, for CI smoke runs:

    python scripts/make_fixture_data.py DIR [--per-class N] [--test-per-class N] [--seed S] [--gz]
    modbench compare --suite cifar100-googlenet --subset 2 --epochs 1 --data-dir DIR

The images are synthetic (a class pattern plus noise) and each dataset folder gets a
MODBENCH_FIXTURE marker; loaders warn that the data is not real. See docs/datasets.md.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("dir", type=Path, help="data folder to write into (created if needed)")
    parser.add_argument("--per-class", type=int, default=None,
                        help="training images per class (default: 10; 4 for CIFAR-100)")
    parser.add_argument("--test-per-class", type=int, default=None,
                        help="test images per class (default: 4; 2 for CIFAR-100)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--gz", action="store_true",
                        help="Fashion-MNIST as the four .gz files Zalando publishes (not unpacked)")
    args = parser.parse_args(argv)
    for flag in ("per_class", "test_per_class"):
        value = getattr(args, flag)
        if value is not None and value < 2:
            parser.error(f"--{flag.replace('_', '-')} must be at least 2 (train and validation, "
                         "or two test images per class for retrieval)")
    try:
        import modbench  # noqa: F401 - the fixture writer uses the package's marker format
    except ImportError:  # running from a source checkout without the package installed
        sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    import fixture_data  # next to this script (sys.path[0]); not part of the package

    fixture_data.write_all(args.dir, args.per_class, args.test_per_class, args.seed, gz=args.gz)
    print(f"fixture data (not the real datasets) written to {args.dir}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
