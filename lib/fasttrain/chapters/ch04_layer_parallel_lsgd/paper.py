"""Chapter 04: the paper's words the claims quote (Cyr et al. 2020, abstract)."""

from __future__ import annotations

_ABSTRACT = "Cyr et al. 2020, abstract"
_SAME = (
    "The multigrid method used in this approach stitches these subdomains together with "
    "sufficient accuracy to ensure rapid convergence to the same solution as the serial algorithm."
)
_DRAMATIC = (
    "We provide analysis of these techniques, and illustrate via numerical examples dramatic "
    "increases in accuracy and convergence rate for benchmarks characterizing applications of "
    "DNNs, including regression problems and physics-informed neural networks for the solution "
    "of partial differential equations."
)
_ACCELERATE = (
    "The first advance is a new layer-parallel training algorithm that exploits a multigrid "
    "scheme to accelerate both forward and backward propagation."
)
