"""The fault suite behind `python bench/chaos.py`: processes it owns (Temporal dev server, worker, web app,
PostgreSQL), the faults it injects into them, provider-side ledgers, and the invariant checks (nothing lost,
nothing twice). Each scenario lives in `bench/chaos/scenarios/` and returns one `ScenarioResult` row.
"""
