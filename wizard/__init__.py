"""analytics-wizard core: steps, answers, ledger and adapters. Knows nothing of any UI."""

__version__ = "0.1.0"
