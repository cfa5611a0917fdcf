"""The study's steps, in the order they run, each with the rule that says it is already done.

Steps that make files nnU-Net itself checks are done when those files are complete and newer than
what they were made from: a training when ``checkpoint_final.pth`` and ``convergence.json`` exist
(and, for a transfer, are newer than the source checkpoint), a prediction when its folder exists
(it is written under a temporary name and renamed when complete), an evaluation when its JSON
exists. The others (phantom, conversion, planning, link) are done when the study state records
them. An unfinished training is continued with ``--c`` from its ``checkpoint_latest.pth`` and
otherwise started over in an emptied folder; the report is always rewritten.

Each step names the steps it needs (:attr:`Step.needs`, the keys of the step objects it was made
after in :func:`study_steps`), from which :mod:`.graph` builds the order Dask runs them in.
"""
from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import TYPE_CHECKING

from nnunet_t1t2.atomic import partial_name
from nnunet_t1t2.conversion.choices import ConversionChoices
from nnunet_t1t2.errors import UserError
from nnunet_t1t2.labels import LABELS
from nnunet_t1t2.study.context import StudyContext
from nnunet_t1t2.study.converted import ConvertedDataset
from nnunet_t1t2.study.layout import Model, source_model, trained_models
from nnunet_t1t2.study.protocol import ALL, CONFIGURATION, DATASET_IDS, SOURCE_FOLD, Protocol
from nnunet_t1t2.study.state import StudyState

if TYPE_CHECKING:
    from nnunet_t1t2.study.learning import LearningFailure

#: The evaluation's key of the class a source model must have learned (:class:`SourceCheckStep`).
BONE_KEY = str(LABELS["bone"])
#: ``nnunet-t1t2 convert`` exits 1 when it left out single images and converted the rest.
CONVERT_LEFT_SOME_OUT = 1


class Step:
    """One step: ``key`` names it in the state and its log file, ``title`` in the progress line."""

    key: str
    title: str
    needs: tuple[str, ...] = ()
    """The keys of the steps it waits for."""

    def after(self, *steps: Step | None) -> Step:
        """This step, waiting for ``steps`` (None: a step the study does not have)."""
        self.needs = tuple(step.key for step in steps if step is not None)
        return self

    def is_done(self, context: StudyContext, state: StudyState) -> bool:
        return state.is_recorded(self.key)

    def run(self, context: StudyContext) -> None:
        raise NotImplementedError

    def command(self, context: StudyContext, *command: str, **options) -> int:
        return context.runner.run(list(command), context.layout.log_file(self.key), **options)


def up_to_date(output: Path, *inputs: Path) -> bool:
    """``output`` exists and is at least as new as each of ``inputs`` that exists."""
    return output.exists() and all(output.stat().st_mtime >= i.stat().st_mtime for i in inputs if i.exists())


class PhantomStep(Step):
    key = "phantom"

    def __init__(self, protocol: Protocol):
        spec = protocol.phantom
        self.title = f"generating the phantom ({spec.patients} patients, {spec.t2_patients} with T2, {spec.size})"

    def run(self, context: StudyContext) -> None:
        spec = context.protocol.phantom
        self.command(context, "nnunet-t1t2", "phantom", "--out", str(context.data), "--n", str(spec.patients),
                     "--n-t2", str(spec.t2_patients), "--size", spec.size, "--seed", str(spec.seed), "--overwrite")


class ConvertStep(Step):
    key = "convert"
    title = "converting the patients to the T1, T2 and T1T2 data sets"

    def run(self, context: StudyContext) -> None:
        layout, protocol = context.layout, context.protocol
        phantom = context.data == layout.phantom
        choices = ConversionChoices("paired" if phantom else None,
                                    {"folds": protocol.cv_folds, **(protocol.phantom.conversion if phantom else {})})
        choices.updated(protocol.conversion).write(layout.conversion_settings)
        self.command(context, "nnunet-t1t2", "convert", "--input", str(context.data), "--name", layout.dataset_name,
                     *(f"--{kind.lower()}-id={i}" for kind, i in DATASET_IDS.items()), "-np", str(context.workers),
                     "--settings", str(layout.conversion_settings), accepted_exit_codes=(0, CONVERT_LEFT_SOME_OUT))
        folds = context.protocol.folds
        ConvertedDataset.read(layout.raw_dataset("T1")).require_usable((SOURCE_FOLD,), tested=True)
        ConvertedDataset.read(layout.raw_dataset("T2")).require_usable(folds, tested=True)
        if context.protocol.augmentation:
            ConvertedDataset.read(layout.raw_dataset("T1T2")).require_usable((SOURCE_FOLD,), tested=False)


class PlanStep(Step):
    """nnU-Net's fingerprint and plans, the plans preset on top, preprocessing with it, and our
    splits put back in place."""

    def __init__(self, kind: str):
        self.kind = kind
        self.key = f"plan/{kind}"
        self.title = f"planning and preprocessing the {kind} data set"

    def run(self, context: StudyContext) -> None:
        dataset_id, plans = str(DATASET_IDS[self.kind]), context.protocol.plans
        workers = str(context.workers)
        self.command(context, "nnUNetv2_plan_and_preprocess", "-d", dataset_id, "-c", CONFIGURATION, "--no_pp",
                     "-npfp", workers)
        if plans != "nnUNetPlans":
            self.command(context, "nnunet-t1t2", "plans", plans, "-d", dataset_id, "-c", CONFIGURATION)
        self.command(context, "nnUNetv2_preprocess", "-d", dataset_id, "-plans_name", context.protocol.plans_name,
                     "-c", CONFIGURATION, "-np", workers)
        install_splits(context, self.kind)


class LinkStep(Step):
    key = "link"
    title = "linking the T1 source model to the T2 data set"

    def is_done(self, context: StudyContext, state: StudyState) -> bool:
        plans = context.layout.preprocessed / context.layout.dataset_folder_name("T2") / \
            f"{context.protocol.plans_name}.json"
        return super().is_done(context, state) and plans.is_file()

    def run(self, context: StudyContext) -> None:
        # the link names the source by data set, trainer, plans and fold, which each seed's training
        # resolves against its own nnUNet_results: one link, checked against the first seed's source
        source = source_model(context.protocol, context.protocol.seeds[0])
        self.command(context, "nnunet-t1t2", "link", "--source", str(DATASET_IDS["T1"]),
                     "--target", str(DATASET_IDS["T2"]), "-tr", source.trainer, "-p", context.protocol.plans_name,
                     "-c", CONFIGURATION, "--fold", str(source.fold), "-np", str(context.workers),
                     variables=seed_variables(context, source))
        install_splits(context, "T2")


class T2SizesStep(Step):
    """Refuse a T2 training size larger than a fold's T2 training patients, then install the nested
    subsets into nnU-Net's splits. Every training waits for it, so that a size too large stops the
    study before anything trains, also one that adds sizes to a finished study."""

    key = "split/t2-sizes"

    def __init__(self, protocol: Protocol):
        sizes = ", ".join("all" if size is ALL else str(size) for size in protocol.t2_train_sizes)
        self.title = f"drawing the nested subsets of {sizes} T2 training patients"

    def is_done(self, context: StudyContext, state: StudyState) -> bool:
        return False  # cheap, and it must judge the sizes asked for now (they are no part of the set-up)

    def run(self, context: StudyContext) -> None:
        dataset = ConvertedDataset.read(context.layout.raw_dataset("T2"))
        largest = max((size for size in context.protocol.t2_train_sizes if size is not ALL), default=0)
        short = {fold: len(dataset.training_patients(fold)) for fold in context.protocol.folds}
        short = {fold: count for fold, count in short.items() if count < largest}
        if short:
            raise UserError(f"--t2-train-sizes {largest}: {dataset.folder.name} has fewer T2 training patients ("
                            + "; ".join(f"fold {fold}: {count}" for fold, count in short.items())
                            + f"); choose sizes up to {min(short.values())}, or all. Nothing was trained for it.")
        for kind in ("T2", "T1T2") if context.protocol.augmentation else ("T2",):
            install_splits(context, kind)


class TrainStep(Step):
    def __init__(self, model: Model, source: Model | None):
        self.model, self.source = model, source
        self.key = f"train/{model.key}"
        self.title = f"training {model.name}"

    def inputs(self, context: StudyContext) -> list[Path]:
        return [context.layout.fold_folder(self.source) / "checkpoint_final.pth"] if self.source else []

    def is_done(self, context: StudyContext, state: StudyState) -> bool:
        folder = context.layout.fold_folder(self.model)
        return (folder / "convergence.json").is_file() and \
            up_to_date(folder / "checkpoint_final.pth", *self.inputs(context))

    def run(self, context: StudyContext) -> None:
        folder = context.layout.fold_folder(self.model)
        resume = up_to_date(folder / "checkpoint_latest.pth", *self.inputs(context))
        if not resume and folder.exists():
            shutil.rmtree(folder)  # a start over must not mix with a previous attempt's files
        self.command(context, "nnUNetv2_train", str(DATASET_IDS[self.model.dataset]), CONFIGURATION,
                     str(self.model.training_fold), "-tr", self.model.trainer, "-p", context.protocol.plans_name,
                     "-device", context.runner.device, *(["--c"] if resume else []),
                     *(["-num_gpus", str(context.gpus_per_training)] if context.gpus_per_training > 1 else []),
                     training=context.protocol.training_environment(self.model.role, self.model.seed),
                     variables=seed_variables(context, self.model))
        if not (folder / "convergence.json").is_file():
            raise UserError(f"{self.model.trainer} finished without writing {folder / 'convergence.json'}; "
                            f"is it an nnunet-t1t2 trainer?")


class SourceCheckStep(Step):
    """Fail fast: a T1 source model that learned no bone stops its seed's T2 strategies before they
    train on it, unless the user accepts it (``--accept-unlearned-source``); the message gives the
    numbers and a longer schedule to try. Only bone: it is what a pseudo-CT needs most and what a short
    schedule learns last, while a small class (air inside the head at coarse voxels) may score low
    in a model that is fine; the report names every class a model did not learn."""

    def __init__(self, source: Model):
        self.source = source
        self.key = f"check/{source.key}"
        self.title = f"checking what {source.name} learned"

    def is_done(self, context: StudyContext, state: StudyState) -> bool:
        return False  # cheap, and it must judge the source model there is now

    def run(self, context: StudyContext) -> None:
        from nnunet_t1t2.study.learning import learning_failures
        from nnunet_t1t2.study.results import StudyResults

        results = StudyResults(context.layout, context.protocol)
        failure = next((f for f in learning_failures(results) if f.model == self.source and f.class_key == BONE_KEY),
                       None)
        if failure is not None and not context.protocol.accept_unlearned_source:
            raise UserError(unlearned_source_message(context.protocol, failure, results.convergence(self.source)))


def unlearned_source_message(protocol: Protocol, failure: LearningFailure, record: dict | None) -> str:
    """What the source's validation and training showed, and the longer schedule to try."""
    from nnunet_t1t2.study.learning import LEARNED_NOTHING_DICE, pseudo_dice_text
    from nnunet_t1t2.training.patience import PATIENCE_VARIABLE

    record = record or {}
    curve = failure.pseudo_dice(record)
    during = f"; during training: {pseudo_dice_text(failure.class_name, curve, record['final_model']['epoch'])}" \
        if curve is not None else ""
    epochs, patience = record.get("num_epochs"), protocol.source_schedule.get(PATIENCE_VARIABLE)
    longer = " ".join([f"--source-epochs {2 * epochs}"] * bool(epochs) +
                      [f"--source-patience {2 * int(patience)}"] * bool(patience)) or "a longer schedule"
    now = ", ".join([f"{epochs} epochs"] * bool(epochs) + [f"patience {patience}"] * bool(patience))
    return (f"{failure.model.name} learned no {failure.class_name} (validation {failure.class_name} Dice "
            f"{failure.dice:.3f}, below {LEARNED_NOTHING_DICE}{during}). Every T2 strategy of seed "
            f"{failure.model.seed} starts from this model, so they were not trained. Train the source longer: run "
            f"the study again into a new --out with {longer}{f' (now {now})' if now else ''}, or use the paper "
            f"preset on a GPU; or add --accept-unlearned-source to train the T2 strategies on this source anyway.")


class PredictStep(Step):
    def __init__(self, model: Model, test_set: str):
        self.model, self.test_set = model, test_set
        self.key = f"predict/{model.key}/{test_set}"
        self.title = f"predicting the {test_set} test set with {model.name}"

    def is_done(self, context: StudyContext, state: StudyState) -> bool:
        return up_to_date(context.layout.prediction_folder(self.model, self.test_set),
                          context.layout.fold_folder(self.model) / "checkpoint_final.pth")

    def run(self, context: StudyContext) -> None:
        final = context.layout.prediction_folder(self.model, self.test_set)
        partial = partial_name(final)
        for folder in (partial, final):
            if folder.exists():
                shutil.rmtree(folder)
        # each worker is a fresh Python importing torch: on the CPU, nnU-Net's sequential mode (0) is cheapest
        processes = "0" if context.runner.device == "cpu" else str(context.workers)
        self.command(context, "nnUNetv2_predict", "-i", str(context.layout.test_images(self.test_set)),
                     "-o", str(partial), "-d", str(DATASET_IDS[self.model.dataset]), "-c", CONFIGURATION,
                     "-tr", self.model.trainer, "-p", context.protocol.plans_name, "-f", str(self.model.training_fold),
                     "-device", context.runner.device, "-npp", processes, "-nps", processes,
                     "-step_size", str(context.protocol.prediction_step_size), "--disable_progress_bar",
                     *([] if context.protocol.test_time_mirroring else ["--disable_tta"]),
                     variables=seed_variables(context, self.model))
        os.replace(partial, final)


class EvaluateStep(Step):
    def __init__(self, model: Model, test_set: str):
        self.model, self.test_set = model, test_set
        self.key = f"evaluate/{model.key}/{test_set}"
        self.title = f"evaluating {model.name} on the {test_set} test set"

    def is_done(self, context: StudyContext, state: StudyState) -> bool:
        predictions = context.layout.prediction_folder(self.model, self.test_set)
        return up_to_date(context.layout.evaluation_file(self.model, self.test_set), predictions) and (
            not self.scores_pseudo_ct(context) or
            up_to_date(context.layout.pseudo_ct_file(self.model, self.test_set), predictions))

    def scores_pseudo_ct(self, context: StudyContext) -> bool:
        """Whether the conversion left the test patients' registered CTs (an older one did not)."""
        return context.layout.test_cts(self.test_set).is_dir()

    def run(self, context: StudyContext) -> None:
        from nnunet_t1t2.atomic import write_json_atomically
        from nnunet_t1t2.conversion.manifest import MANIFEST
        from nnunet_t1t2.evaluation import evaluate_folders, write_csv, write_json
        from nnunet_t1t2.evaluation.pseudo_ct_cases import pseudo_ct_errors
        from nnunet_t1t2.prediction.pseudo_ct import choose_hu

        layout, predictions = context.layout, context.layout.prediction_folder(self.model, self.test_set)
        summary = evaluate_folders(predictions, layout.test_labels(self.test_set), num_processes=1)
        target = layout.evaluation_file(self.model, self.test_set)
        write_csv(summary, target.with_suffix(".csv"))
        write_json(summary, target)  # atomically, like every file of the study
        if self.scores_pseudo_ct(context):  # with the HU its own training patients' CTs hold (predict --hu-from)
            hu = choose_hu(hu_from=str(layout.raw_dataset(self.test_set) / MANIFEST))
            errors = pseudo_ct_errors(predictions, layout.test_labels(self.test_set), layout.test_cts(self.test_set),
                                      hu.values)
            write_json_atomically(layout.pseudo_ct_file(self.model, self.test_set), {**errors, **hu.record()})


class ReportStep(Step):
    key = "report"
    title = "writing the report and its figures"

    def is_done(self, context: StudyContext, state: StudyState) -> bool:
        return False  # cheap, and it must reflect every result there is

    def run(self, context: StudyContext) -> None:
        from nnunet_t1t2.study.report import write_report

        write_report(context)


def seed_variables(context: StudyContext, model: Model) -> dict[str, str]:
    """The model's seed's own ``nnUNet_results`` (see :mod:`.layout`)."""
    return {"nnUNet_results": str(context.layout.seed_results(model.seed))}


def install_splits(context: StudyContext, kind: str) -> None:
    """Put the conversion's splits back into the preprocessed folder (nnU-Net's planning may not), those
    of the T2 and T1T2 data sets followed by their nested subsets of T2 training patients, which no
    re-install may drop."""
    from nnunet_t1t2.conversion import install_splits as install

    extra = []
    if kind != "T1":
        t2 = ConvertedDataset.read(context.layout.raw_dataset("T2"))
        extra = (t2 if kind == "T2" else ConvertedDataset.read(context.layout.raw_dataset(kind))).nested_subsets(t2)
    with context.runner.nnunet_folders_in_process():
        install(DATASET_IDS[kind], extra)


def study_steps(protocol: Protocol, generate_phantom: bool) -> list[Step]:
    """Every step of the study in order, each made after the steps it needs."""
    models = trained_models(protocol)
    first_source = source_model(protocol, protocol.seeds[0])
    phantom = PhantomStep(protocol) if generate_phantom else None
    convert = ConvertStep().after(phantom)
    plans = {kind: PlanStep(kind).after(convert) 
             for kind in (("T1", "T1T2") if protocol.augmentation else ("T1",))}
    sizes = T2SizesStep(protocol).after(convert) if protocol.sweeps_t2_sizes else None
    sources = [model for model in models if model.role == "source"]
    trainings = {model: TrainStep(model, None).after(plans[model.dataset], sizes)
                 for model in models if model.dataset != "T2"}
    checks = {model: SourceCheckStep(model).after(trainings[model]) for model in sources} \
        if protocol.t2_strategies else {}
    link = LinkStep().after(checks[first_source]) if protocol.t2_strategies else None
    for model in models:
        if model.dataset == "T2":
            source = source_model(protocol, model.seed)
            trainings[model] = TrainStep(model, source).after(link, checks[source], sizes)
    predictions = [PredictStep(model, test_set).after(trainings[model])
                   for model in models for test_set in model.test_sets]
    steps = [step for step in (phantom, convert, *plans.values(), sizes, trainings[first_source],
                               checks.get(first_source), link) if step is not None]
    steps += [trainings[model] for model in models if model != first_source]
    steps += [checks[model] for model in sources if model != first_source and model in checks]
    steps += predictions
    steps += [EvaluateStep(p.model, p.test_set).after(p) for p in predictions]
    steps.append(ReportStep())
    return steps
