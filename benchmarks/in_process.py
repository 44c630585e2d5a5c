"""The environment of the benchmarks that run the functions in this process, on the emulator.

Imported before any of the functions' modules: Powertools reads these when they load (no
tracing, quiet logs, the benchmark's own metrics namespace), and the emulator takes any
credentials. Defaults only: what the caller's environment sets wins.
"""

from __future__ import annotations

import os

os.environ.setdefault("POWERTOOLS_TRACE_DISABLED", "true")
os.environ.setdefault("POWERTOOLS_LOG_LEVEL", "ERROR")
os.environ.setdefault("POWERTOOLS_METRICS_NAMESPACE", "EcsRollbackBenchmark")
os.environ.setdefault("AWS_ACCESS_KEY_ID", "testing")
os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "testing")
