"""Which steps of a study wait for which: the dependency graph that Dask executes.

conversion -> planning -> T1 source model -> the check of what it learned -> link -> T2 strategies
(per fold and seed) -> predictions -> evaluations; the T1+T2 model needs only the planning of its data set, and each
seed's strategies only that seed's source model and its check. Everything that is not on such a path runs at
the same time as soon as there are workers for it. The report is no part of the graph: it is
written at the end from whatever finished.
"""
from __future__ import annotations

from nnunet_t1t2.study.steps import (ConvertStep, EvaluateStep, LinkStep, PhantomStep, PlanStep, PredictStep,
                                     ReportStep, SourceCheckStep, Step, TrainStep)


def dependencies(steps: list[Step]) -> dict[str, tuple[str, ...]]:
    """For every step but the report, the keys of the steps it needs (all in ``steps``)."""
    keys = {type(step): step.key for step in steps if isinstance(step, (PhantomStep, ConvertStep, LinkStep))}
    trainings = {step.model: step.key for step in steps if isinstance(step, TrainStep)}
    first_source = next((step for step in steps if isinstance(step, TrainStep) and step.source is None
                         and step.model.role == "source"), None)
    checks = {step.source: step.key for step in steps if isinstance(step, SourceCheckStep)}
    predictions = {(step.model, step.test_set): step.key for step in steps if isinstance(step, PredictStep)}

    def needs(step: Step) -> tuple[str, ...]:
        if isinstance(step, PhantomStep):
            return ()
        if isinstance(step, ConvertStep):
            return (keys[PhantomStep],) if PhantomStep in keys else ()
        if isinstance(step, PlanStep):
            return (keys[ConvertStep],)
        if isinstance(step, SourceCheckStep):
            return (trainings[step.source],)
        if isinstance(step, LinkStep):
            return (checks[first_source.model],)
        if isinstance(step, TrainStep):
            if step.source is not None:
                return keys[LinkStep], checks[step.source]
            return (f"plan/{step.model.dataset}",)
        if isinstance(step, PredictStep):
            return (trainings[step.model],)
        if isinstance(step, EvaluateStep):
            return (predictions[(step.model, step.test_set)],)
        raise TypeError(f"no dependencies known for {type(step).__name__}")

    return {step.key: needs(step) for step in steps if not isinstance(step, ReportStep)}
