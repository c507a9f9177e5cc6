"""Pipeline stages: plain, typed functions over the dataclasses in `tasks.models`.

No stage module imports Prefect: extraction and summarising worker processes import them, and Prefect
would cost each ~2 s and ~50 MB. The flow's Prefect tasks, each running a stage over a whole batch (one
per source for reading), are declared together by one rule in `tasks.prefect_tasks`, which only the
flow (flows/daily_digest.py) imports.
"""
