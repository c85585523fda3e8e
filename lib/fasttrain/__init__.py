"""fasttrain: the library behind the executable reproducibility book.

One module per training method (``linearized``, ``gauss_newton``,
``random_bases``, ``layer_parallel``, ``lsgd``) and shared pieces
(``data``, ``download``, ``models``, ``baselines``, ``timing``,
``plotting``, ``results``, ``config``) in their own modules.
The ``book`` module executes the chapter notebooks with papermill.
"""

__version__ = "0.1.0"
