"""The book's shared ground: data and downloads, scales, timing and progress, results and claims,
plotting, the image classifiers and the fast Walsh-Hadamard transform.  Imports neither
:mod:`fasttrain.methods` nor :mod:`fasttrain.chapters`."""
