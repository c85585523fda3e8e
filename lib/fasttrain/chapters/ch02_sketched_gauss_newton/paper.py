"""Chapter 02: the paper's words (its abstract, the only text of the paper the book stores) and
where the values outside it come from.
"""

from __future__ import annotations

#: the paper's abstract (LIPIcs ITCS 2021, the only text of the paper this book stores)
ABSTRACT = {
    "generalization": "initiated an ongoing effort for developing faster second-order "
    "optimization algorithms beyond SGD, without compromising the generalization error",
    "rate": "Despite their remarkable convergence rate (independent of the training batch size n), "
    "second-order algorithms incur a daunting slowdown in the cost per iteration",
    "first-order": "The slow convergence rate and pathological curvature issues of first-order "
    "gradient methods for training deep neural networks",
    "gn-cost": "yielding an O(mn²)-time second-order algorithm for training two-layer "
    "overparametrized neural networks of polynomial width m",
    "near-linear": "achieving an Õ(mn)-time backpropagation algorithm for training (mildly "
    "overparametrized) ReLU networks, which is near-linear in the dimension (mn) of the full "
    "gradient (Jacobian) matrix",
    "sketch": "use a Fast-JL type dimension reduction to precondition the underlying Gram matrix "
    "in time independent of M, allowing to find a sufficiently good approximate solution via "
    "first-order conjugate gradient",
}


#: where the values of the theorem and the lemmas come from: the stored text of the paper
#: (../shared/papers/seeds/vandenbrand-2021-near-linear-time.txt) is its abstract page only
OUTSIDE_SEED = (
    "not in the stored text (the abstract page of the ITCS version): taken from the book's notes "
    "on the paper (shared/papers/FACTS.md, section B, listed there among the 'unconfirmed "
    "details' of arXiv 2006.11648), not checked against the full paper here"
)
