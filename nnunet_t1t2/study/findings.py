"""The report's opening **Findings**: plain sentences built from the paired statistics.

First what the study cannot vouch for: models that learned nothing of a class (nnU-Net's
validation Dice, :mod:`.learning`), which makes the strategies starting from them uninterpretable
for that class, models trained from scratch that learned a class only for a while (their schedule is
on the edge), and classes the test labels do not hold. Then, per class on the T2 test set, the
best strategy and every strategy against no fine-tuning and against the best: the mean per-patient
paired Dice difference with its bootstrap 95 % interval and Wilcoxon p (:mod:`.statistics`), a
verdict only where the interval covers patients and trainings (two runs or more) and excludes 0,
"not distinguishable" otherwise.
"""
from __future__ import annotations

from nnunet_t1t2.study.layout import Model
from nnunet_t1t2.study.learning import (LEARNED_NOTHING_DICE, LearningFailure, learning_failures,
                                       pseudo_dice_text, transiently_learned, uninterpretable_classes)
from nnunet_t1t2.study.classes import BONE_CLASS, BY_KEY, CLASSES, HEAD_CLASSES, TissueClass
from nnunet_t1t2.study.results import StudyResults
from nnunet_t1t2.study.statistics import Estimate, PairedComparison, Sample
from nnunet_t1t2.study.strategies import STRATEGIES, Strategy

TEST_SET = "T2"
BASELINE = "no-ft"
ROLE_NAMES = {"source": "the T1 source model", "augmentation": "the T1+T2 model"}


def role_name(role: str) -> str:
    """"the T1 source model", "the T1+T2 model", "hybrid multiplication"."""
    return ROLE_NAMES[role] if role in ROLE_NAMES else STRATEGIES[role].short_name


def model_name(role: str) -> str:
    """:func:`role_name` as a sentence's subject."""
    name = role_name(role)
    return name[0].upper() + name[1:]


def signed(value: float) -> str:
    return f"{value:+.3f}"


def sample(value: Sample) -> str:
    """"4 patients x 3 seeds", "8 patients x 1 seed x 3 folds"."""
    text = f"{value.patients} patient{'s' * (value.patients != 1)} x {value.seeds} seed{'s' * (value.seeds != 1)}"
    return text + (f" x {value.folds} folds" if value.folds > 1 else "")


def estimate_text(value: Estimate) -> str:
    interval = f" [{value.low:.3f}, {value.high:.3f}]" if value.low is not None else " (no interval: one patient)"
    spread = f", between-seed SD {value.seed_sd:.3f}" if value.seed_sd is not None else ""
    training = "" if value.covers_training else "; one training: the interval covers the patients only"
    return f"{value.mean:.3f}{interval} ({sample(value)}{spread}{training})"


def verdict(where: str, name: str, other: str, comparison: PairedComparison) -> str:
    """One sentence: ``name`` against ``other`` on ``where``."""
    n = sample(comparison)
    if comparison.low is None:
        return f"On {where}, {name} against {other}: {signed(comparison.difference)} ({n}); too few patients " \
               f"for an interval, no verdict."
    p = f"Wilcoxon p = {comparison.p_value:.2g}" if comparison.p_value is not None else "no Wilcoxon p"
    numbers = f"{signed(comparison.difference)} [{signed(comparison.low)}, {signed(comparison.high)}], {p}"
    if not comparison.covers_training:
        return (f"On {where}, {name} and {other} are not distinguishable with one training of each ({numbers}, "
                f"{n}: the interval covers these patients, not the variation between trainings, which one "
                f"training cannot show; train more seeds, e.g. `--seeds 0 1 2`).")
    if comparison.distinguishable:
        relation = "beats" if comparison.difference > 0 else "is worse than"
        return f"On {where}, {name} {relation} {other} by {numbers}, {n}."
    return f"On {where}, {name} and {other} are not distinguishable ({numbers}, {n})."


def findings(results: StudyResults) -> str:
    """The Findings section's body (markdown)."""
    failures = learning_failures(results)
    uninterpretable = uninterpretable_classes(failures)
    lines = [learning_line(key, [f for f in failures if f.class_key == key])
             for key in dict.fromkeys(f.class_key for f in failures)]
    lines += [f"- **Not interpretable: every T2 strategy on {BY_KEY[key].words}**, since they start from a "
              f"T1 source model that learned none (seed {', '.join(map(str, seeds))})." for key, seeds in
              uninterpretable.items()]
    lines += transient_lines(results)
    for role in ("source", "augmentation"):
        bone = results.estimate(role, "T1", BONE_CLASS.key)
        if bone is not None:
            lines.append(f"- {model_name(role)} on the T1 test set: bone Dice {estimate_text(bone)}.")
    for tissue in CLASSES:
        lines += class_findings(results, tissue, tissue.key in uninterpretable)
    return "\n".join(lines) if lines else "No T2 strategy has been evaluated yet."


def size_words(model: Model) -> str:
    """", 2 T2 training patients", nothing for all."""
    return "" if model.t2_size is None else f", {model.t2_size} T2 training patients"


def learning_line(class_key: str, failures: list[LearningFailure]) -> str:
    """One line per class: which models learned none of it, with their validation Dice."""
    models = "; ".join(f"{role_name(f.model.role)} (fold {f.model.fold}, seed {f.model.seed}{size_words(f.model)}): "
                       f"{f.dice:.3f}" for f in failures)
    subject = "model" if len(failures) == 1 else "models"
    return (f"- **{len(failures)} {subject} learned no {failures[0].class_name}** (validation Dice below "
            f"{LEARNED_NOTHING_DICE}): {models}.")


def transient_lines(results: StudyResults) -> list[str]:
    """One line per model trained from scratch and class it learned and lost again during training."""
    lines = []
    for model in results.models:
        if model.role not in ROLE_NAMES:
            continue
        record = results.convergence(model)
        for name, values in transiently_learned(record).items():
            epoch, who = record["final_model"]["epoch"], role_name(model.role)
            lines.append(f"- **{who[0].upper()}{who[1:]} (fold {model.fold}, seed {model.seed}) learned "
                         f"{name.replace('_', ' ')} only for a while**: {pseudo_dice_text(name, values, epoch)}. "
                         f"Its final model is the epoch chosen by {record['final_model']['selected_by']}; a longer "
                         f"or steadier schedule (`--source-epochs`, `--source-patience`) would be on safer ground.")
    return lines


def class_findings(results: StudyResults, tissue: TissueClass, uninterpretable: bool) -> list[str]:
    where = f"T2 {tissue.words}"
    estimates = {s.key: results.estimate(s.key, TEST_SET, tissue.key) for s in results.protocol.t2_strategies}
    estimates = {key: value for key, value in estimates.items() if value is not None}
    if results.reference_voxels(TEST_SET, tissue.key) == 0:
        return [f"- On {where}: **empty** — the T2 test patients' CT-derived labels hold no voxel of this class "
                f"(nothing below the air threshold inside the head at this voxel size), so it is not scored."]
    if not estimates:
        return []
    prefix = "(not interpretable, see above) " if uninterpretable else ""
    best = max(estimates, key=lambda key: estimates[key].mean)
    lines = [f"- {prefix}Best on {where}: {STRATEGIES[best].short_name}, Dice {estimate_text(estimates[best])}."]
    if estimates[best].mean < LEARNED_NOTHING_DICE:
        head = sum(results.reference_voxels(TEST_SET, head.key) or 0 for head in HEAD_CLASSES)
        share = f"; it is {results.reference_voxels(TEST_SET, tissue.key) / head:.1%} of the head's voxels in the " \
                f"test labels, the last class a short training learns" if head else ""
        lines.append(f"- {prefix}**No strategy segments {where}** (best Dice below {LEARNED_NOTHING_DICE}{share}).")
    baselines = [key for key in (BASELINE, best) if key in estimates]
    for baseline in dict.fromkeys(baselines):
        for key in estimates:
            if key == baseline or (baseline == best and key == BASELINE and BASELINE in baselines):
                continue  # each pair once, and never a strategy against itself
            comparison = results.comparison(key, baseline, TEST_SET, tissue.key)
            if comparison is not None:
                names = STRATEGIES[key].short_name, STRATEGIES[baseline].short_name
                lines.append(f"- {prefix}{verdict(where, *names, comparison)}")
    return lines
