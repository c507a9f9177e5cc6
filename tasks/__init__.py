"""Pipeline stages: plain, typed functions over the dataclasses in `tasks.models`.

Each module ends with a thin Prefect `@task` that runs its stage over a whole batch.
"""
