"""Evaluate a folder of predictions against a folder of references, as nnU-Net pairs them.

Files pair by name, as in nnU-Net (``CASE.nii.gz`` in both folders), and are read with nnU-Net's
reader for their file ending. Unlike nnU-Net's default, the two folders must hold exactly the same
cases: a prediction missing for a reference would otherwise silently leave a (possibly failed) case
out of the results.
"""
from __future__ import annotations

import multiprocessing
from itertools import starmap
from pathlib import Path

from nnunetv2.configuration import default_num_processes
from nnunetv2.imageio.reader_writer_registry import LIST_OF_IO_CLASSES, determine_reader_writer_from_file_ending

from nnunet_t1t2.errors import UserError
from nnunet_t1t2.evaluation.cases import evaluate_case
from nnunet_t1t2.evaluation.classes import DEFAULT_LABELS, evaluation_classes
from nnunet_t1t2.evaluation.summary import summarize

_ALL_ENDINGS = {ending for io_class in LIST_OF_IO_CLASSES for ending in io_class.supported_file_endings}
SUPPORTED_FILE_ENDINGS = sorted(_ALL_ENDINGS, key=len, reverse=True)  # longest first: .nii.gz before .nii


def evaluate_folders(pred_dir: str | Path, ref_dir: str | Path, labels: dict[str, int] | None = None,
                     file_ending: str | None = None, num_processes: int | None = None) -> dict:
    """The extended ``summary.json`` content (see :mod:`summary`) for every case of ``ref_dir``.

    ``labels`` maps names to label values (default :data:`classes.DEFAULT_LABELS`); ``file_ending``
    defaults to the one ending the reference files share. Cases are evaluated in
    ``num_processes`` worker processes (default: nnU-Net's ``default_num_processes``; in this process
    when 1).
    """
    pred_dir, ref_dir = Path(pred_dir), Path(ref_dir)
    for folder, role in ((pred_dir, "prediction"), (ref_dir, "reference")):
        if not folder.is_dir():
            raise UserError(f"{role} folder {folder} does not exist")
    file_ending = file_ending or _shared_file_ending(ref_dir)
    cases = _matching_cases(pred_dir, ref_dir, file_ending)
    try:
        reader = determine_reader_writer_from_file_ending(file_ending, verbose=False)()
    except RuntimeError:
        raise UserError(f"nnU-Net has no reader for {file_ending} files "
                        f"(supported: {', '.join(SUPPORTED_FILE_ENDINGS)})") from None
    classes = evaluation_classes(labels or DEFAULT_LABELS)
    jobs = [(case, str(pred_dir / f"{case}{file_ending}"), str(ref_dir / f"{case}{file_ending}"), reader, classes)
            for case in cases]
    workers = min(num_processes or default_num_processes, len(jobs))
    if workers == 1:
        metric_per_case = list(starmap(evaluate_case, jobs))
    else:
        with multiprocessing.get_context("spawn").Pool(workers) as pool:
            metric_per_case = pool.starmap(evaluate_case, jobs)
    return summarize(metric_per_case, classes)


def _shared_file_ending(ref_dir: Path) -> str:
    endings = {_file_ending(path.name) for path in ref_dir.iterdir() if path.is_file()} - {None}
    if not endings:
        raise UserError(f"reference folder {ref_dir} holds no segmentations "
                        f"({', '.join(SUPPORTED_FILE_ENDINGS)})")
    if len(endings) > 1:
        raise UserError(f"reference folder {ref_dir} mixes file endings {', '.join(sorted(endings))}; "
                        f"give a dataset.json to choose one")
    return endings.pop()


def _file_ending(name: str) -> str | None:
    return next((ending for ending in SUPPORTED_FILE_ENDINGS if name.endswith(ending)), None)


def _matching_cases(pred_dir: Path, ref_dir: Path, file_ending: str) -> list[str]:
    references, predictions = _cases_in(ref_dir, file_ending), _cases_in(pred_dir, file_ending)
    if not references:
        raise UserError(f"reference folder {ref_dir} holds no *{file_ending} files")
    problems = []
    if references - predictions:
        problems.append(f"no prediction in {pred_dir} for {_some(references - predictions, file_ending)}")
    if predictions - references:
        problems.append(f"no reference in {ref_dir} for {_some(predictions - references, file_ending)}")
    if problems:
        raise UserError("; ".join(problems) + " (the two folders must hold the same cases)")
    return sorted(references)


def _cases_in(folder: Path, file_ending: str) -> set[str]:
    return {path.name[:-len(file_ending)] for path in folder.iterdir()
            if path.is_file() and path.name.endswith(file_ending)}


def _some(cases: set[str], file_ending: str, shown: int = 5) -> str:
    names = [f"{case}{file_ending}" for case in sorted(cases)]
    more = f" and {len(names) - shown} more" if len(names) > shown else ""
    return ", ".join(names[:shown]) + more
