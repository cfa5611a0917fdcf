"""Which steps of a study wait for which: the dependency graph that Dask executes.

conversion -> planning -> T1 source model -> the check of what it learned -> link -> T2 strategies
(per size, fold and seed) -> predictions -> evaluations; the T1+T2 model needs only the planning of
its data set, each seed's strategies only that seed's source model and its check, and with T2
training sizes every training the step that refuses a size too large. Everything that is not on such
a path runs at the same time as soon as there are workers for it. The report is no part of the graph:
it is written at the end from whatever finished. Each step declares what it needs where
:func:`~.steps.study_steps` makes it; this module only checks that the graph is whole.
"""
from __future__ import annotations

from nnunet_t1t2.study.steps import ReportStep, Step


def dependencies(steps: list[Step]) -> dict[str, tuple[str, ...]]:
    """For every step but the report, the keys of the steps it needs (all in ``steps``)."""
    graph = {step.key: step.needs for step in steps if not isinstance(step, ReportStep)}
    missing = {key: needed for key, needs in graph.items() for needed in needs if needed not in graph}
    if missing:
        raise ValueError(f"steps that need a step the study does not have: {missing}")
    return graph
