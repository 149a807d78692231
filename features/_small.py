"""The small-input threshold: below it, Python loops, sets and dicts beat pandas' per-call overhead.

That is the one-family path of the API. Loaders, validation and the history compiler all read this one value
as `_small.SMALL` at call time (never imported by value), so a test can lower it in one place.
"""

SMALL = 5_000
