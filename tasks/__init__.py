"""Pipeline stages: plain, typed functions over the dataclasses in `tasks.models`.

Each module ends with a thin Prefect `@task` that runs its stage over a whole batch; but
`clean` and `dedup` have theirs in flows/daily_digest.py: the extraction worker processes
import those two modules, and Prefect would cost each of them ~2 s and ~50 MB.
"""
