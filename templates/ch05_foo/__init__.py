"""Chapter 05 (a skeleton to copy): reproduces the claims of a paper whose method is called ``foo``.

Copy this directory to ``lib/fasttrain/chapters/ch05_foo/``, rename, and replace every ``foo``. The
protocol in words goes here (data, methods, seeds, timings), then the modules in import order:

* :mod:`.paper`: the paper's values, each with where it comes from;
* :mod:`.configs`: :class:`Config` per scale; its fields' metadata builds the settings table;
* :mod:`.rules`: the rules that decide the claims, each with its statistic and an example per verdict;
* :mod:`.claims`: ``CLAIMS`` (the paper's words, value, location, kind, rule) and ``REGRESSION``;
* :mod:`.measure`: one section's protocol (here a stand-in: seeded random "accuracies");
* :mod:`.evidence`: ``evidence(out, cfg)``, every declared claim from the sections' outputs;
* :mod:`.text`: the sentences the notebook glues, and the settings table.

Inside ``lib/fasttrain/chapters/`` the imports are relative (``from ...core import claims``); this
copy uses absolute ones so that it imports from ``templates/`` (``tests/test_chapter_template.py``
runs it there: a skeleton that cannot go stale).
"""

from .claims import CLAIMS, REGRESSION  # noqa: F401
from .configs import CONFIGS, Config, config  # noqa: F401
from .evidence import PARTS, SECTIONS, evidence  # noqa: F401
from .measure import accuracies  # noqa: F401
from .text import sentences, settings  # noqa: F401
