"""fasttrain: the library behind the executable reproducibility book.

Three layers, each importing only the ones before it:

* :mod:`fasttrain.core` -- data, downloads, scales, timing and progress, results and claims,
  plotting, models, the fast Walsh-Hadamard transform;
* :mod:`fasttrain.methods` -- the papers' algorithms and baselines (``linearized``,
  ``gauss_newton``, ``random_bases``, ``layer_parallel``, ``lsgd``, ``gradient_descent``);
* :mod:`fasttrain.chapters` -- one module per chapter: configurations per scale, the paper's
  values, protocols, claims and their rules.

Entry points that nothing imports: :mod:`fasttrain.book` (the papermill runner) and
:mod:`fasttrain.download` (the data downloader's command line).
"""

__version__ = "0.1.0"
