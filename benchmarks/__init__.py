"""stlar-dl's benchmarks (issue 5): how fresh the live view is, how fast a big run loads, what logging costs.

`python -m benchmarks [--quick] [--markdown FILE] [--json FILE]` runs every figure on this machine and prints
one table (figure, median, spread, target, pass/fail). One module per figure; `table` formats the results,
`logs` writes realistic logs, `view` is the viewer's update path on an Agg canvas, `procs` measures child
processes. Everything generated goes to a temporary directory, never into the repo.
"""
