"""From a folder of patients to the T1, T2 and T1T2 raw data sets (``nnunet-t1t2 convert``).

The main process plans (discovery, split, which cases are already up to date), hands one job per
patient to the workers, records each finished case in its data set's manifest as soon as it comes
back, and at the end writes dataset.json and the splits and removes what no longer belongs. Workers
write their cases' files themselves (atomically, :func:`install_files`), so a killed run leaves
complete cases or nothing, and the next run picks up where it stopped.
"""
from __future__ import annotations

import json
import os
import re
import sys
import tempfile
import traceback
from collections.abc import Iterable, Iterator
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field
from multiprocessing import get_context
from pathlib import Path

import SimpleITK as sitk
from nnunetv2.paths import nnUNet_preprocessed, nnUNet_raw
from tqdm import tqdm

from nnunet_t1t2 import __version__
from nnunet_t1t2.conversion.case import ConversionSettings, LabelledImage, label_mr_image
from nnunet_t1t2.conversion.files import install_files
from nnunet_t1t2.conversion.layouts import PatientSource, discover_patients, resolve_layout
from nnunet_t1t2.conversion.manifest import Manifest
from nnunet_t1t2.conversion.other_patients import compared_patients
from nnunet_t1t2.conversion.overlay import write_overlay_png
from nnunet_t1t2.conversion.quality import qc_title
from nnunet_t1t2.conversion.raw_dataset import STAGING_PREFIX, CasePaths, RawDataset
from nnunet_t1t2.conversion.reading import fingerprint, read_ct, read_mask
from nnunet_t1t2.conversion.splits import PatientSplit, SplitProtocol, nnunet_splits, split_patients, write_splits
from nnunet_t1t2.conversion.timing import StageClock
from nnunet_t1t2.errors import UserError
from nnunet_t1t2.hounsfield import HU_RANGE

STAGES = ("reading", "registration", "registration check", "labelling", "writing")


@dataclass(frozen=True)
class DatasetIds:
    """nnU-Net ids of the data sets to write; a data set without an id is not written."""

    t1: int
    t2: int | None = None
    t1t2: int | None = None


@dataclass(frozen=True)
class Destination:
    """Where one converted MR image goes: a case of one data set."""

    dataset: RawDataset
    case: str
    test: bool
    paths: CasePaths


@dataclass(frozen=True)
class ImageJob:
    """One MR image of a patient and the cases it becomes; ``identity`` is the part of their
    manifest records that decides whether they are up to date."""

    modality: str
    identity: dict
    destinations: tuple[Destination, ...]
    accepted: bool = False
    """The user looked at this image and keeps it even if the registration check refuses it."""


@dataclass(frozen=True)
class PatientJob:
    source: PatientSource
    images: tuple[ImageJob, ...]
    settings: ConversionSettings
    other_cts: tuple[tuple[str, Path], ...] = ()
    """(patient, CT path) of the other patients whose CTs its MR images are compared with."""


@dataclass(frozen=True)
class ImageOutcome:
    job: ImageJob
    facts: dict | None = None
    error: str | None = None


@dataclass(frozen=True)
class PatientOutcome:
    patient: str
    images: list[ImageOutcome]
    clock: StageClock = field(default_factory=StageClock)


@dataclass
class ConversionSummary:
    """What a conversion did, per MR image, and the resulting data sets."""

    converted: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    datasets: list[str] = field(default_factory=list)
    not_written: list[str] = field(default_factory=list)
    """Data sets left without dataset.json and splits, and why (a fold without training cases, say)."""
    clocks: dict[str, StageClock] = field(default_factory=dict)
    """Time per stage (:data:`STAGES`) of each patient with a converted image."""

    def report(self) -> str:
        lines = [f"converted {len(self.converted)}, skipped {len(self.skipped)} (already up to date), "
                 f"failed {len(self.failed)} MR images"]
        if self.clocks:
            mean = {stage: sum(clock.wall[stage] for clock in self.clocks.values()) / len(self.clocks)
                    for stage in STAGES}
            lines.append(f"  {sum(mean.values()):.1f} s per patient ("
                         + ", ".join(f"{stage} {mean[stage]:.1f}" for stage in STAGES) + ")")
        lines += [f"  failed: {reason}" for reason in sorted(self.failed)]
        lines += [f"  note: {note}" for note in self.notes]
        lines += [f"  {line}" for line in self.datasets]
        lines += [f"  not written: {reason}" for reason in self.not_written]
        return "\n".join(lines)


def convert(input_dir: Path, layout: str, ids: DatasetIds, name: str | None = None,
            settings: ConversionSettings = ConversionSettings(), protocol: SplitProtocol = SplitProtocol(),
            num_processes: int = 1, progress: bool = True, accept: Iterable[str] = ()) -> ConversionSummary:
    """Convert the patients under ``input_dir`` into the data sets ``ids`` under ``$nnUNet_raw``, and
    install their ``splits_final.json`` under ``$nnUNet_preprocessed``. Problems with single patients
    are reported in the summary; problems with the arguments raise :class:`UserError`. ``accept``
    names images checked by eye (``PATIENT`` or ``PATIENT:T1|T2``) that are kept even where the
    registration check would refuse them."""
    for variable in (nnUNet_raw, nnUNet_preprocessed):
        if not variable.is_set():
            raise UserError(f"{variable.env_var_name} is not set; nnU-Net needs it "
                            f"(export {variable.env_var_name}=...)")
    summary = ConversionSummary()
    layout, detected = resolve_layout(input_dir, layout)
    patients, problems = discover_patients(input_dir, layout)
    summary.notes += ([detected] if detected else []) + [note for source in patients for note in source.notes]
    if not patients:
        raise UserError("no patient in {} can be converted:\n  {}".format(
            input_dir, "\n  ".join(problem.message for problem in problems)))
    summary.failed += [problem.message for problem in problems]
    accepted = parse_accepted(accept, {p.patient for p in patients} | {p.patient for p in problems})
    datasets = _datasets(ids, name or default_name(input_dir), patients, summary)
    split = split_by_subject(patients, any(d.kind == "T2" for d in datasets), protocol)

    manifests = {dataset: Manifest(dataset.folder) for dataset in datasets}
    jobs = _plan(patients, manifests, split, settings, summary, accepted)
    for outcome in _run(jobs, num_processes, progress):
        for image in outcome.images:
            for destination in image.job.destinations:
                manifest = manifests[destination.dataset]
                if image.error:
                    manifest.leave_out(destination.case, image.error)
                else:
                    manifest.add(destination.case, {**image.job.identity, "test": destination.test, **image.facts})
            if image.error:
                summary.failed.append(image.error)
            else:
                summary.converted.append(f"{outcome.patient} {image.job.modality}")
        if any(not image.error for image in outcome.images):
            summary.clocks[outcome.patient] = outcome.clock

    provenance = {"input": str(input_dir.resolve()), "layout": layout, "converted_by": f"nnunet_t1t2 {__version__}",
                  **settings.as_dict(), "split": protocol.as_dict()}
    for dataset, manifest in manifests.items():
        _finish(dataset, manifest, split, provenance, summary)
    return summary


def default_name(input_dir: Path) -> str:
    """Data set name from the input folder's name: letters and digits, the first one upper case."""
    name = re.sub(r"[^A-Za-z0-9]", "", input_dir.resolve().name)
    if not name:
        raise UserError(f"cannot derive a data set name from {input_dir}; give one with --name")
    return name[0].upper() + name[1:]


def _datasets(ids: DatasetIds, name: str, patients: list[PatientSource],
              summary: ConversionSummary) -> list[RawDataset]:
    if not re.fullmatch(r"[A-Za-z0-9]+", name):
        raise UserError(f"data set name {name!r} must consist of letters and digits only")
    requested = {"T1": ids.t1, "T2": ids.t2, "T1T2": ids.t1t2}
    given = [i for i in requested.values() if i is not None]
    if len(set(given)) < len(given):
        raise UserError(f"the data set ids must differ: --t1-id {ids.t1}, --t2-id {ids.t2}, --t1t2-id {ids.t1t2}")
    if any(not 1 <= i <= 999 for i in given):
        raise UserError(f"data set ids must lie between 1 and 999 (nnU-Net's three digits), not {given}")
    has_t2 = any(p.t2 for p in patients)
    datasets = []
    for kind, dataset_id in requested.items():
        if dataset_id is None:
            continue
        dataset = RawDataset(kind, dataset_id, name)
        if kind != "T1" and not has_t2:
            summary.notes.append(f"no patient has a T2 image, so {dataset.folder_name} is not written")
            continue
        dataset.check_id_is_free()
        datasets.append(dataset)
    return datasets


def parse_accepted(accept: Iterable[str], patients: set[str]) -> frozenset[tuple[str, str]]:
    """(patient, modality) pairs from ``PATIENT`` (both MR images) or ``PATIENT:T1|T2`` entries."""
    pairs = set()
    for entry in accept:
        patient, _, modality = entry.partition(":")
        modalities = ("T1", "T2") if not modality else (modality.upper(),)
        if modalities[0] not in ("T1", "T2"):
            raise UserError(f"--accept {entry}: give PATIENT or PATIENT:T1 or PATIENT:T2")
        if patient not in patients:
            raise UserError(f"--accept {entry}: there is no patient {patient!r} in the input "
                            f"(patients: {', '.join(sorted(patients)[:10])}{' ...' if len(patients) > 10 else ''})")
        pairs |= {(patient, m) for m in modalities}
    return frozenset(pairs)


def split_by_subject(patients: list[PatientSource], t2_written: bool, protocol: SplitProtocol) -> PatientSplit:
    """The split drawn over subjects (a BIDS subject's sessions stay on one side: they share a head),
    as a split of their patients. Where the T2 data set is written, its subjects shape the others'
    splits (its test subjects stay out of all training)."""
    subject_of = {p.patient: p.subject for p in patients}
    t2_subjects = {p.subject for p in patients if p.t2} if t2_written else set()
    return split_patients(set(subject_of.values()), t2_subjects, protocol).of_patients(subject_of)


def _plan(patients: list[PatientSource], manifests: dict[RawDataset, Manifest], split: PatientSplit,
          settings: ConversionSettings, summary: ConversionSummary,
          accepted: frozenset[tuple[str, str]] = frozenset()) -> list[PatientJob]:
    """The jobs for the cases that are not up to date (the manifests keep the records of the others)."""
    jobs = []
    ct_fingerprints = {p.patient: fingerprint(p.ct) for p in patients}
    others = _compared_patients(patients, ct_fingerprints, settings.quality.compared_patients)
    ct_of = {p.patient: p.ct for p in patients}
    for source in patients:
        compared = {patient: ct_fingerprints[patient] for patient in others[source.patient]}
        images = []
        for modality, mr in (("T1", source.t1), ("T2", source.t2)):
            datasets = [dataset for dataset in manifests if modality in dataset.modalities]
            if mr is None or not datasets:
                continue
            accept = (source.patient, modality) in accepted
            identity = _as_stored({"patient": source.patient, "modality": modality, "accepted_by_user": accept,
                                   "sources": _fingerprints(source, mr, ct_fingerprints[source.patient]),
                                   "settings": settings.as_dict(),
                                   "compared_with_cts_of": compared})
            pending = []
            for dataset in datasets:
                case = dataset.case_id(source.patient, modality)
                test = source.patient in split.test_patients(dataset.kind)
                destination = Destination(dataset, case, test, dataset.case_paths(case, test))
                if not manifests[dataset].keep_if_up_to_date(case, {**identity, "test": test}, destination.paths):
                    pending.append(destination)
            if pending:
                images.append(ImageJob(modality, identity, tuple(pending), accept))
            else:
                summary.skipped.append(f"{source.patient} {modality}")
        if images:
            jobs.append(PatientJob(source, tuple(images), settings,
                                   tuple((patient, ct_of[patient]) for patient in others[source.patient])))
    return jobs


def _compared_patients(patients: list[PatientSource], ct_fingerprints: dict[str, dict],
                       count: int) -> dict[str, list[str]]:
    """For each patient, the patients whose CTs its MR images are compared with (:mod:`.other_patients`);
    none for registered inputs, which are not registered here."""
    subjects = {p.patient: p.subject for p in patients}
    ct_bytes = {patient: ct["bytes"] for patient, ct in ct_fingerprints.items()}
    return {p.patient: [] if p.registered else compared_patients(p.patient, subjects, ct_bytes, count)
            for p in patients}


def _as_stored(record: dict) -> dict:
    """``record`` as it reads back from the JSON manifest (tuples become lists), for comparisons."""
    return json.loads(json.dumps(record))


def _fingerprints(source: PatientSource, mr: Path, ct_fingerprint: dict) -> dict:
    sources = {"mr": fingerprint(mr), "ct": ct_fingerprint}
    if source.head_mask:
        sources["head_mask"] = fingerprint(source.head_mask)
    return sources


def _run(jobs: list[PatientJob], num_processes: int, progress: bool) -> Iterator[PatientOutcome]:
    """The outcomes of all jobs as they finish, ``num_processes`` patients at a time; failures are
    also printed as they happen."""
    with tqdm(total=len(jobs), unit="patient", desc="converting", disable=not progress) as bar:
        for outcome in _outcomes(jobs, num_processes):
            for image in outcome.images:
                if image.error:
                    bar.write(f"failed: {image.error}", file=sys.stderr)
            yield outcome
            bar.update()


def _outcomes(jobs: list[PatientJob], num_processes: int) -> Iterator[PatientOutcome]:
    if num_processes <= 1 or len(jobs) <= 1:
        yield from map(convert_patient, jobs)
        return
    threads = max(1, (os.cpu_count() or 1) // num_processes)
    with ProcessPoolExecutor(num_processes, mp_context=get_context("spawn"), initializer=_limit_threads,
                             initargs=(threads,)) as pool:
        futures = {pool.submit(convert_patient, job): job for job in jobs}
        for future in as_completed(futures):
            try:
                yield future.result()
            except Exception as e:  # the worker process died (out of memory, killed)
                job = futures[future]
                error = f"patient {job.source.patient}: worker process failed ({type(e).__name__}: {e})"
                yield PatientOutcome(job.source.patient, [ImageOutcome(image, error=error) for image in job.images])


def _limit_threads(threads: int) -> None:
    sitk.ProcessObject.SetGlobalDefaultNumberOfThreads(threads)


def convert_patient(job: PatientJob) -> PatientOutcome:
    """Convert a patient's MR images (runs in a worker). Bad input and failed registrations become
    outcomes with an error message; so does anything unexpected, with its traceback, so that one
    patient never stops the others."""
    patient = job.source.patient
    clock = StageClock()
    try:
        with clock.stage("reading"):
            ct = read_ct(job.source.ct, patient)
            given_head = read_mask(job.source.head_mask, patient) if job.source.head_mask else None
            other_cts = _readable_cts(job.other_cts)
        images = []
        for image in job.images:
            try:
                labelled = label_mr_image(job.source, image.modality, ct, job.settings, clock, given_head,
                                          image.accepted, other_cts)
                with clock.stage("writing"):
                    _write_case(labelled, image.destinations, title=qc_title(patient, image.modality,
                                                                             labelled.facts["quality"],
                                                                             job.settings.quality))
                images.append(ImageOutcome(image, facts=labelled.facts))
            except UserError as e:
                images.append(ImageOutcome(image, error=str(e)))
        return PatientOutcome(patient, images, clock)
    except UserError as e:
        return PatientOutcome(patient, [ImageOutcome(image, error=str(e)) for image in job.images])
    except Exception:
        error = f"patient {patient}: unexpected error (please report it):\n{traceback.format_exc()}"
        return PatientOutcome(patient, [ImageOutcome(image, error=error) for image in job.images])


def _readable_cts(cts: tuple[tuple[str, Path], ...]) -> dict[str, sitk.Image]:
    """The other patients' CTs that can be read (an unreadable one fails its own patient, not this)."""
    read = {}
    for patient, path in cts:
        try:
            read[patient] = read_ct(path, patient)
        except UserError:
            pass
    return read


def _write_case(labelled: LabelledImage, destinations: tuple[Destination, ...], title: str) -> None:
    """Write the case's files once into a staging folder, then install them into each destination."""
    staging_parent = destinations[0].dataset.folder
    staging_parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=STAGING_PREFIX, dir=staging_parent) as staging:
        staged = CasePaths(Path(staging) / "image.nii.gz", Path(staging) / "label.nii.gz", Path(staging) / "qc.png",
                           Path(staging) / "ct.nii.gz")
        sitk.WriteImage(labelled.mr, str(staged.image), useCompression=True)
        sitk.WriteImage(labelled.labels, str(staged.label), useCompression=True)
        write_overlay_png(labelled.mr, labelled.labels, staged.overlay, title)
        if any(destination.paths.ct for destination in destinations):
            sitk.WriteImage(whole_hu(labelled.ct), str(staged.ct), useCompression=True)
        for destination in destinations:
            ct = {staged.ct: destination.paths.ct} if destination.paths.ct else {}
            install_files({**ct, staged.overlay: destination.paths.overlay, staged.label: destination.paths.label,
                           staged.image: destination.paths.image})


def whole_hu(ct: sitk.Image) -> sitk.Image:
    """The CT in whole HU (int16, as a CT stores them) within the range a CT holds."""
    return sitk.Cast(sitk.Clamp(sitk.Round(ct), lowerBound=HU_RANGE[0], upperBound=HU_RANGE[1]), sitk.sitkInt16)


def _finish(dataset: RawDataset, manifest: Manifest, split: PatientSplit, provenance: dict,
            summary: ConversionSummary) -> None:
    """Make the data set folder match this run: manifest, stray files, dataset.json, splits."""
    manifest.finish()
    removed = dataset.remove_stray_files({case: dataset.case_paths(case, record["test"])
                                          for case, record in manifest.cases.items()})
    if removed:
        summary.notes.append(f"{dataset.folder_name}: removed {len(removed)} files of cases that are no longer "
                             f"converted or that moved between training and test")
    training = {case: record for case, record in manifest.cases.items() if not record["test"]}
    cases_of_patient: dict[str, list[str]] = {}
    for case, record in training.items():
        cases_of_patient.setdefault(record["patient"], []).append(case)
    folds = nnunet_splits(split.val_folds(dataset.kind), cases_of_patient)
    sizes = ", ".join(f"{len(fold['train'])}/{len(fold['val'])}" for fold in folds)
    empty = [f"fold {f} has no {part} case" for f, fold in enumerate(folds) for part in ("train", "val")
             if not fold[part]]
    if empty:
        # nnU-Net would train on nothing, or fall back to its own random split: no dataset.json, no splits.
        dataset.withdraw()
        left_out = "".join(f"\n    left out {case}: {reason}" for case, reason in sorted(manifest.left_out.items()))
        summary.not_written.append(f"{dataset.folder_name}: {len(training)} training cases for {len(folds)} "
                              f"folds (train/val {sizes}): {'; '.join(empty)}{left_out}")
        return
    test_patients = sorted(split.test_patients(dataset.kind))
    dataset.write_dataset_json(len(training), {**provenance, "test_patients": test_patients})
    write_splits(dataset.folder, folds)
    summary.datasets.append(f"{dataset.folder_name}: {len(training)} training cases, folds train/val {sizes}; "
                            f"{len(manifest.cases) - len(training)} test cases")
