"""The console script: its verbs, the trainers path, clean errors."""
import subprocess
import sys
from pathlib import Path

import pytest

from nnunet_t1t2.cli import VERBS

CLI = str(Path(sys.executable).parent / "nnunet-t1t2")


def test_help_lists_every_verb():
    result = subprocess.run([CLI, "--help"], capture_output=True, encoding="utf-8", errors="replace")
    assert result.returncode == 0
    for verb in VERBS:
        assert verb in result.stdout
    assert "not built yet" not in result.stdout


@pytest.mark.parametrize("verb", VERBS)
def test_every_verb_has_working_help(verb):
    result = subprocess.run([CLI, verb, "--help"], capture_output=True, encoding="utf-8", errors="replace")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(f"usage: nnunet-t1t2 {verb}")


def test_trainers_path_is_the_installed_trainers_folder():
    result = subprocess.run([CLI, "trainers-path"], capture_output=True, encoding="utf-8", errors="replace", check=True)
    folder = Path(result.stdout.strip())
    assert {"se_unet.py", "fine_tuning.py", "hybrid.py"} <= {p.name for p in folder.glob("*.py")}


def test_user_errors_are_one_line_without_traceback(tmp_path):
    result = subprocess.run([CLI, "plans", "demo", "-d", "987"], capture_output=True, encoding="utf-8", errors="replace",
                            env={"PATH": "", "nnUNet_raw": str(tmp_path), "nnUNet_preprocessed": str(tmp_path),
                                 "nnUNet_results": str(tmp_path)})
    assert result.returncode == 2
    assert result.stderr.startswith("error: data set 987") and "Traceback" not in result.stderr
