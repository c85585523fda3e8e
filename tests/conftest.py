"""Shared test set-up: CPU JAX, and results files kept out of the repository."""

import os
import tempfile

os.environ.setdefault("JAX_PLATFORMS", "cpu")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
# chapter notebooks executed by nbval write their results JSON here, not into notebooks/
os.environ.setdefault("FASTTRAIN_RESULTS_DIR", tempfile.mkdtemp(prefix="fasttrain-test-results-"))
