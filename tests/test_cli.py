"""The console script: its verbs, the trainers path, clean errors."""
import inspect
import subprocess
import sys
from pathlib import Path

import pytest

from nnunet_t1t2.cli import VERBS
from nnunet_t1t2.discovery import trainers_folder

CLI = str(Path(sys.executable).parent / "nnunet-t1t2")


def test_help_lists_every_verb():
    result = subprocess.run([CLI, "--help"], capture_output=True, encoding="utf-8", errors="replace")
    assert result.returncode == 0
    for verb in VERBS:
        assert verb in result.stdout
    assert "not built yet" not in result.stdout


def test_a_verb_fills_in_only_its_own_options_so_a_light_verb_starts_without_torch():
    # The study's options list its presets and strategies, which import torch (about two seconds).
    code = ("import sys\nfrom nnunet_t1t2.cli import main\ntry:\n    main(['phantom', '--help'])\n"
            "except SystemExit:\n    pass\nprint('torch imported:', 'torch' in sys.modules)")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, encoding="utf-8", check=True)
    assert result.stdout.startswith("usage: nnunet-t1t2 phantom")
    assert result.stdout.rstrip().endswith("torch imported: False")


@pytest.mark.parametrize("verb", VERBS)
def test_every_verb_has_working_help(verb):
    result = subprocess.run([CLI, verb, "--help"], capture_output=True, encoding="utf-8", errors="replace")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(f"usage: nnunet-t1t2 {verb}")


def test_trainers_path_is_a_folder_with_one_module_re_exporting_the_trainers():
    result = subprocess.run([CLI, "trainers-path"], capture_output=True, encoding="utf-8", errors="replace", check=True)
    folder = Path(result.stdout.strip())
    assert folder == trainers_folder()
    assert [p.name for p in folder.glob("*.py")] == ["nnunet_t1t2_trainers.py"]
    assert "from nnunet_t1t2.trainers import *" in (folder / "nnunet_t1t2_trainers.py").read_text(encoding="utf-8")


def test_trainers_lists_every_trainer_with_its_own_purpose():
    import nnunet_t1t2.trainers as ours
    from nnunet_t1t2.training.base import T1T2Trainer

    result = subprocess.run([CLI, "trainers"], capture_output=True, encoding="utf-8", errors="replace", check=True)
    listed = dict(line.split(None, 1) for line in result.stdout.splitlines())
    assert list(listed) == ours.__all__
    assert {"SEUNetTrainer", "NoFineTuneTrainer", "FineTune12ConvTrainer_Paper", "HybridMaxTrainer_Paper"} <= set(listed)
    exported = {name for name, value in vars(ours).items() if isinstance(value, type) and issubclass(value, T1T2Trainer)}
    assert exported == set(listed)  # nothing nnU-Net can find is missing from the list
    for name, purpose in listed.items():
        assert purpose.strip() and purpose != inspect.getdoc(getattr(ours, name).__mro__[1]), name
    assert listed["FineTune12ConvTrainer"].startswith("The heads and the last 12 conv layers train")
    assert listed["FineTune12ConvTrainer_Paper"].startswith("FineTune12ConvTrainer with the paper's schedule")


def test_unregister_trainers_removes_only_the_old_shim(tmp_path, monkeypatch):
    from nnunet_t1t2 import discovery
    from nnunet_t1t2.cli import main

    shim = tmp_path / discovery.OLD_SHIM_NAME
    monkeypatch.setattr(discovery, "old_shim_path", lambda: shim)
    assert main(["unregister-trainers"]) == 0  # nothing there: fine
    shim.write_text("class MyOwnTrainer: pass\n", encoding="utf-8")
    assert main(["unregister-trainers"]) == 2 and shim.exists()  # not ours: kept
    shim.write_text(discovery.OLD_SHIM_TEXT, encoding="utf-8")
    assert main(["unregister-trainers"]) == 0 and not shim.exists()


def test_user_errors_are_one_line_without_traceback(tmp_path):
    result = subprocess.run([CLI, "plans", "demo", "-d", "987"], capture_output=True, encoding="utf-8", errors="replace",
                            env={"PATH": "", "nnUNet_raw": str(tmp_path), "nnUNet_preprocessed": str(tmp_path),
                                 "nnUNet_results": str(tmp_path)})
    assert result.returncode == 2
    assert result.stderr.startswith("error: data set 987") and "Traceback" not in result.stderr
