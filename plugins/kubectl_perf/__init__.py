"""kubectl-perf: kubectl plugins and an admission webhook for Kubernetes performance work."""

__version__ = "0.1.0"  # the one place: pyproject, `kubectl perf version` and the krew manifest read it
