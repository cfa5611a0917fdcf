"""Segmenting a list of cases one after another, each on its own: a case that fails is reported
with its file named and the others go on."""
from __future__ import annotations

import json
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from nnunet_t1t2.errors import UserError
from nnunet_t1t2.prediction import outputs
from nnunet_t1t2.prediction.inference import predict_labels
from nnunet_t1t2.prediction.inputs import Case, read_case
from nnunet_t1t2.prediction.model import TrainedModel
from nnunet_t1t2.prediction.pseudo_ct import BulkHU, pseudo_ct
from nnunet_t1t2.volumes import label_volumes_ml


@dataclass(frozen=True)
class Options:
    out: Path
    fmt: str = "nifti"
    #: HU per class for a pseudo-CT, None for none.
    hu: BulkHU | None = None
    qc: bool = True


@dataclass
class CaseResult:
    case: Case
    files: list[Path] = field(default_factory=list)
    volumes_ml: dict[str, float] = field(default_factory=dict)
    seconds: float = 0.0
    error: str | None = None


def predict_cases(cases: list[Case], predictor, model: TrainedModel, options: Options,
                  progress: bool = True) -> list[CaseResult]:
    """Segment every case with ``predictor`` (nnU-Net's, holding ``model``), write its outputs and
    update ``volumes.csv`` with the cases that succeeded."""
    from tqdm import tqdm

    options.out.mkdir(parents=True, exist_ok=True)
    outputs.remove_leftovers(options.out)
    results = []
    bar = tqdm(cases, desc="predicting", unit="case", disable=not progress)
    for case in bar:
        bar.set_postfix_str(case.name)
        start = time.perf_counter()
        try:
            result = predict_case(case, predictor, model, options)
        except UserError as e:
            result = CaseResult(case, error=str(e))
        except Exception as e:  # an unforeseen failure of one case must not cost the others their results
            result = CaseResult(case, error=f"{case.path}: {type(e).__name__}: {e}")
        result.seconds = time.perf_counter() - start
        if result.error:
            tqdm.write(f"failed: {result.error}", file=sys.stderr)
        results.append(result)
    succeeded = [r for r in results if r.error is None]
    if succeeded:
        outputs.update_volumes_csv(options.out, [
            {"case": r.case.name, "input": str(r.case.path), **{f"{k}_ml": v for k, v in r.volumes_ml.items()}}
            for r in succeeded])
    return results


def predict_case(case: Case, predictor, model: TrainedModel, options: Options) -> CaseResult:
    """Labels, pseudo-CT and QC picture of one case, published together or not at all."""
    image = read_case(case)
    labels = predict_labels(predictor, image)
    with outputs.CaseWriter(options.out, case) as writer:
        writer.write_image(labels, outputs.label_path(options.out, case, options.fmt))
        if options.hu is not None:
            writer.write_image(pseudo_ct(labels, model.labels, options.hu.values),
                               outputs.pseudo_ct_path(options.out, case, options.fmt))
            writer.staged(outputs.pseudo_ct_record_path(options.out, case)).write_text(
                json.dumps(options.hu.record(), indent=2) + "\n", encoding="utf-8")
        if options.qc:
            from nnunet_t1t2.conversion.overlay import write_overlay_png

            write_overlay_png(image, labels, writer.staged(outputs.qc_path(options.out, case)),
                              f"{case.name}: predicted head (yellow) and bone (red)")
        files = writer.publish()
    return CaseResult(case, files, label_volumes_ml(labels, model.labels))
