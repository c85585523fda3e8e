"""Chapter 05: the paper's values, each with where it comes from (section, table; or outside the
seed text, said so)."""

#: Table 1 of the paper: foo's test accuracy (%), mean of 3 runs
PAPER_ACCURACY = 0.93
