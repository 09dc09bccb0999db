"""compare_peers.py's parts: the patterns as FlexAttention mask/score functions
(patterns.py), the measurements of FlexAttention (flex.py) and SDPA (sdpa.py),
the correctness check against `attnc run` (check.py), and the report (report.py).

Only flex.py, sdpa.py and check.py need torch, and they import it inside their
functions: the report and the tests run on a machine without it.
"""
