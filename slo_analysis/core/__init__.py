"""The pure SLO core: SLIs, error budgets, burn rates, breach windows and alert backtests.

No I/O, no clock, no logging; it imports polars and numpy only (a test checks that importing it does
not import boto3). The SLO engine lands here with its own issue.
"""

__all__: list[str] = []
