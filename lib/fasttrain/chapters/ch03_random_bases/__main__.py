"""``python -m fasttrain.chapters.ch03_random_bases distributed SCALE SEED`` (the multi-device runs)."""

import sys

from .devices import main

if __name__ == "__main__":
    sys.exit(main())
