"""``nnunet-t1t2 predict -i INPUT... -o OUT (-m MODEL | -d DATASET -tr TRAINER)``: new scans to labels,
volumes, QC pictures and a bulk-density pseudo-CT, through nnU-Net's own predictor."""
from __future__ import annotations

import argparse

HELP = ("segment new scans (DICOM series, NIfTI, .mha, .nrrd) with a trained model: labels, volumes.csv, "
        "QC PNGs and optionally a bulk-density pseudo-CT")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from nnunet_t1t2.checkpoints import TRUST_HELP, TRUST_OPTION
    from nnunet_t1t2.prediction.formats import FORMATS

    parser.add_argument("-i", "--input", nargs="+", required=True, metavar="INPUT",
                        help="scans: DICOM series folders, image files (.nii.gz .nii .mha .nrrd) or folders of those")
    parser.add_argument("-o", "--output", required=True, help="output folder")
    model = parser.add_argument_group("model (-m, or -d with -tr)")
    model.add_argument("-m", "--model", help="a zip from nnUNetv2_export_model_to_zip (installed once into the "
                                             "cache) or a trained model folder (used in place)")
    model.add_argument("-d", "--dataset", help="data set name or id under $nnUNet_results")
    model.add_argument("-tr", "--trainer", help="trainer class the model was trained with")
    model.add_argument("-p", "--plans", help="plans identifier [nnUNetPlans with -d]")
    model.add_argument("-c", "--configuration", help="configuration [3d_fullres with -d]")
    model.add_argument("-f", "--folds", nargs="+", help="folds to ensemble [every fold with a checkpoint]")
    model.add_argument("-chk", "--checkpoint", default="checkpoint_final.pth", help="[%(default)s]")
    model.add_argument(TRUST_OPTION, action="store_true", help=TRUST_HELP)
    model.add_argument("--cache", help="where zips are installed [$NNUNET_T1T2_CACHE or ~/.cache/nnunet-t1t2/models]")
    parser.add_argument("--format", choices=FORMATS, default="nifti",
                        help="file format of the label and pseudo-CT images; 'input' keeps the input's "
                             "(.mha, .nrrd, NIfTI; DICOM input gives NIfTI) [%(default)s]")
    parser.add_argument("--pseudo-ct", action="store_true",
                        help="also write <case>_pseudo_ct: each class's bulk HU (air and outside -1000, soft "
                             "tissue 34, bone 731 from the literature, sources in nnunet_t1t2/prediction/"
                             "pseudo_ct.py; or --hu-from), with <case>_pseudo_ct.json saying which values made it")
    parser.add_argument("--hu-from", metavar="DATASET",
                        help="pseudo-CT HU measured on your own CTs: the median HU inside each label over the "
                             "training patients of a converted data set (its id, name, folder or conversion.json; "
                             "implies --pseudo-ct) [the literature values above]")
    parser.add_argument("--hu", metavar="CLASS=HU,...",
                        help="override the pseudo-CT's HU, e.g. air=-1000,soft=40,bone=900, also over --hu-from "
                             "(implies --pseudo-ct)")
    parser.add_argument("--no-qc", action="store_true", help="skip the QC pictures")
    parser.add_argument("--disable-tta", action="store_true", help="no test-time mirroring (in 3D one prediction per tile instead of 8)")
    parser.add_argument("--device", choices=("auto", "cuda", "cpu", "mps"), default="auto",
                        help="[cuda if available, else cpu]")


def run(args: argparse.Namespace) -> int:
    import sys
    from pathlib import Path

    from nnunet_t1t2.output_folder import writable_folder
    from nnunet_t1t2.prediction.inputs import find_cases
    from nnunet_t1t2.prediction.model import check_model, default_cache, find_model, load_predictor
    from nnunet_t1t2.prediction.pseudo_ct import check_labels, choose_hu
    from nnunet_t1t2.prediction.runner import Options, predict_cases

    hu = choose_hu(args.hu, args.hu_from) if args.pseudo_ct or args.hu or args.hu_from else None
    cases = find_cases(args.input)
    folder = find_model(args.model, args.dataset, args.trainer, args.plans, args.configuration,
                        Path(args.cache) if args.cache else default_cache())
    model = check_model(folder, args.folds, args.checkpoint)
    if hu is not None:
        check_labels(model.labels, hu.values, str(model.folder))
    out = writable_folder(Path(args.output))
    print(f"model: {model.describe()}\n{len(cases)} case(s) -> {out}")
    predictor = load_predictor(model, _device(args.device), use_mirroring=not args.disable_tta,
                               trust_checkpoint=args.trust_checkpoint)
    results = predict_cases(cases, predictor, model, Options(out, args.format, hu, not args.no_qc))
    failed = [r for r in results if r.error]
    print(f"{len(results) - len(failed)} of {len(results)} case(s) segmented into {out}")
    if failed:
        print(f"{len(failed)} failed:\n" + "\n".join(f"  {r.error}" for r in failed), file=sys.stderr)
    return 1 if failed else 0


def _device(choice: str) -> str:
    import torch

    if choice == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    return choice
