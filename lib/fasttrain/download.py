"""Command line of the data downloader: ``python -m fasttrain.download [--check] DATASET...``.

The downloader itself is :mod:`fasttrain.core.download`; this entry point only keeps the command
short, like :mod:`fasttrain.book` for the runner.
"""

import sys

from .core.download import main

if __name__ == "__main__":
    sys.exit(main())
