"""Order Desk benchmarks: each one measured against a baseline taken in the same run.

    python -m bench.run            # the full run (bench/results/latest.json and a markdown table)
    python -m bench.run --quick    # a smoke run with tiny counts: checks every benchmark produces numbers

See bench/run.py for the options and README.md ("Performance") for the latest table.
"""
