"""A T2 training size as nnU-Net trains it: the study's subset entry of the splits, given to stock
``nnUNetv2_train`` as a fold, trains on exactly that many T2 patients."""
import json
import shutil

from conftest import CONFIG, PLANS, T2_ID, NNUNetFolders
from nnunet_t1t2.conversion.splits import subset_fold
from nnunet_t1t2.study.converted import ConvertedDataset


def test_a_size_k_subset_trains_on_exactly_k_t2_patients_by_nnunets_own_count(linked_target, tmp_path):
    nnunet, name = linked_target.nnunet, linked_target.t2
    own = NNUNetFolders(nnunet.raw, tmp_path / "preprocessed", tmp_path / "results")  # the shared splits stay as they are
    source, target = nnunet.preprocessed / name, own.preprocessed / name
    identifier = json.loads((source / f"{PLANS}.json").read_text(encoding="utf-8"))["configurations"][CONFIG][
        "data_identifier"]
    target.mkdir(parents=True)
    for item in ("dataset.json", "dataset_fingerprint.json", f"{PLANS}.json", "splits_final.json"):
        shutil.copy2(source / item, target / item)
    for folder in ("gt_segmentations", identifier):
        shutil.copytree(source / folder, target / folder)

    t2 = ConvertedDataset.read(nnunet.raw / name)
    folds = json.loads((target / "splits_final.json").read_text(encoding="utf-8"))
    subsets = t2.nested_subsets(t2)
    (target / "splits_final.json").write_text(json.dumps(folds + subsets), encoding="utf-8")
    entry = subset_fold(len(folds), 0, 1)
    own.train(T2_ID, "SEUNetTrainer", str(entry))

    log = next(own.fold_folder(name, "SEUNetTrainer", str(entry)).glob("training_log_*.txt")).read_text(encoding="utf-8")
    assert f"This split has 1 training and {len(folds[0]['val'])} validation cases." in log
    first = t2.nested_orders()[0][0]
    assert {t2.patient_of_case[c] for c in (folds + subsets)[entry]["train"]} == {first}
    assert len(t2.training_patients(0)) > 1  # a real subset: the fold itself trains on more
