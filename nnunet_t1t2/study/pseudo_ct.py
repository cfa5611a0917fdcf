"""What a user builds from the labels: the error of the bulk-density pseudo-CT made from each T2
strategy's test predictions, against each test patient's own registered CT.

Per strategy, the mean absolute error in HU inside the head and inside the CT's bone
(:mod:`nnunet_t1t2.evaluation.pseudo_ct_cases`), as the mean over test patients of their
run-averaged values with its 95 % interval (:mod:`.statistics`, like Dice), and two paired
differences: to a water-only pseudo-CT of the same patients (does the segmentation help at all?)
and to no fine-tuning. Two reference rows bound it: water only, and the same bulk HU on the CT's own
labels (the best bulk density can do with these HU). The HU per class are the median HU of the
study's own training patients' CTs inside each label, as ``predict --hu-from`` uses them.
"""
from __future__ import annotations

from nnunet_t1t2.evaluation.pseudo_ct_cases import REGIONS
from nnunet_t1t2.study import markdown as md
from nnunet_t1t2.study.findings import BASELINE, TEST_SET, sample
from nnunet_t1t2.study.results import Score, StudyResults
from nnunet_t1t2.study.statistics import Estimate, PairedComparison, estimate, paired_comparison
from nnunet_t1t2.study.strategies import STRATEGIES

REGION_WORDS = {"head": "inside the head", "bone": "inside the CT's bone"}
REFERENCES = {"water": "Water only inside the head (reference)",
              "ct_labels": "Bulk HU on the CT's own labels (reference: the best bulk density can do)"}


def scored_strategies(results: StudyResults) -> list[str]:
    """The T2 strategies whose test pseudo-CTs were scored, in the protocol's order."""
    return [s.key for s in results.protocol.t2_strategies if results.pseudo_ct_values(s.key, TEST_SET, "head")]


def pseudo_ct_estimate(results: StudyResults, role: str, region: str, image: str = "predicted") -> Estimate | None:
    return estimate(results.pseudo_ct_values(role, TEST_SET, region, image))


def against(results: StudyResults, role: str, region: str, other_role: str | None = None,
            other_image: str = "predicted") -> PairedComparison | None:
    """``role``'s predicted pseudo-CT error minus ``other_role``'s (default: the same role's ``other_image``,
    a reference), paired by run and patient."""
    return paired_comparison(results.pseudo_ct_values(role, TEST_SET, region),
                             results.pseudo_ct_values(other_role or role, TEST_SET, region, other_image))


def pseudo_ct_table(results: StudyResults) -> str:
    scored = scored_strategies(results)
    if not scored:
        return ("No T2 pseudo-CT was scored: the conversion wrote no registered CTs of the test patients "
                "(`nnUNet_raw/<T2 data set>/ctTs`; an older nnunet-t1t2 did not). A study into a new `--out` "
                "converts them.")
    rows = []
    for role in scored:
        cells = []
        for region in REGIONS:
            baseline = None if role == BASELINE or BASELINE not in scored else against(results, role, region, BASELINE)
            cells += [_score(pseudo_ct_estimate(results, role, region)),
                      md.paired(against(results, role, region, other_image="water"), 0), md.paired(baseline, 0)]
        rows.append([STRATEGIES[role].label, *cells])
    for image, label in REFERENCES.items():
        rows.append([label, *(cell for region in REGIONS
                              for cell in (_score(pseudo_ct_estimate(results, scored[0], region, image)), "", ""))])
    header = ["Model", *(f"MAE {REGION_WORDS[region]} [HU] {what}" for region in REGIONS
                         for what in ("[95 % CI]", "minus water only", f"minus {STRATEGIES[BASELINE].short_name}"))]
    return md.table(header, rows) + "\n\n" + hu_line(results)


def hu_line(results: StudyResults) -> str:
    used = results.pseudo_ct_hu(TEST_SET)
    values = ", ".join(f"{name.replace('_', ' ')} {value}" for name, value in used["hu"].items())
    sources = sorted(set(used["source"].values()))
    return f"HU per class: {values} (from: {'; '.join(sources)})."


def pseudo_ct_findings(results: StudyResults) -> list[str]:
    """The strategy with the lowest pseudo-CT error inside the head, and whether it beats water."""
    scored = scored_strategies(results)
    estimates = {role: pseudo_ct_estimate(results, role, "head") for role in scored}
    estimates = {role: value for role, value in estimates.items() if value is not None}
    if not estimates:
        return []
    best = min(estimates, key=lambda role: estimates[role].mean)
    water = against(results, best, "head", other_image="water")
    floor = pseudo_ct_estimate(results, best, "head", "ct_labels")
    text = (f"- Lowest T2 pseudo-CT error inside the head: {STRATEGIES[best].short_name}, MAE "
            f"{_estimate_hu(estimates[best])}")
    if water is not None:
        text += f"; against a water-only pseudo-CT {md.paired(water, 0)} HU ({sample(water)}): {_water_verdict(water)}"
    if floor is not None:
        text += f". The CT's own labels with the same HU give {floor.mean:.0f} HU, the best bulk density can do"
    return [text + "."]


def _water_verdict(comparison: PairedComparison) -> str:
    if comparison.distinguishable:
        return "it beats water" if comparison.difference < 0 else "it is worse than water"
    if not comparison.covers_training:
        return "not distinguishable from water with one training (train more seeds, e.g. `--seeds 0 1 2`)"
    return "not distinguishable from water"


def _estimate_hu(value: Estimate) -> str:
    """``estimate_text`` in whole HU."""
    interval = f" [{value.low:.0f}, {value.high:.0f}]" if value.low is not None else ""
    return f"{value.mean:.0f} HU{interval} ({sample(value)})"


def _score(value: Estimate | None) -> str:
    return md.score(None if value is None else Score(value.mean, value.low, value.high), 0)
