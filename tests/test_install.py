"""Installing nnunet-t1t2 into an environment with nnU-Net: found with no set-up step, gone after uninstall.

A fresh virtual environment borrows this environment's packages (torch, nnU-Net: a plain path line,
so none of their .pth files run there) except nnunet-t1t2 itself, then installs the checkout with
pip as a user would. Lookups go through stock nnU-Net's ``recursive_find_trainer_class_by_name``,
the function by which ``nnUNetv2_train`` and ``nnUNetv2_predict`` find ``-tr NAME``.
"""
from __future__ import annotations

import ast
import graphlib
import json
import os
import shutil
import subprocess
import sys
import sysconfig
import venv
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
OURS = ("nnunet_t1t2", "nnunet-t1t2", "__editable__")

#: Looks each name up through nnU-Net in a fresh interpreter; prints one JSON line.
LOOKUP = """
import json, os, sys
from nnunetv2.utilities.find_objects import recursive_find_trainer_class_by_name
found = {}
for name in sys.argv[1:]:
    try:
        found[name] = recursive_find_trainer_class_by_name(name).__module__
    except RuntimeError:
        found[name] = None
print(json.dumps({"found": found, "nnUNet_extTrainer": os.environ.get("nnUNet_extTrainer"),
                  "top_level": sorted({"hybrid", "se_unet", "fine_tuning"} & set(sys.modules))}))
"""
USER_TRAINER = """
from nnunetv2.training.nnUNetTrainer.nnUNetTrainer import nnUNetTrainer


class UsersOwnTrainer(nnUNetTrainer):
    pass
"""


class FreshEnvironment:
    def __init__(self, root: Path):
        venv.create(root, with_pip=False)
        self.python = root / ("Scripts" if os.name == "nt" else "bin") / "python"
        self.site_packages = Path(self._run(self.python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"
                                            ).stdout.strip())
        borrowed = root / "borrowed"  # this environment's packages, ours left out
        borrowed.mkdir()
        for entry in Path(sysconfig.get_paths()["purelib"]).iterdir():
            if not entry.name.startswith(OURS) and entry.suffix != ".pth":
                (borrowed / entry.name).symlink_to(entry)
        (self.site_packages / "borrowed.pth").write_text(f"{borrowed}\n", encoding="utf-8")

    @staticmethod
    def _run(*command, **kwargs) -> subprocess.CompletedProcess:
        result = subprocess.run([str(c) for c in command], capture_output=True, encoding="utf-8", errors="replace",
                                **kwargs)
        assert result.returncode == 0, f"{command}:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
        return result

    def pip(self, *arguments: str) -> None:
        self._run(self.python, "-m", "pip", "--disable-pip-version-check", "-q", *arguments, env=_without_our_variables())

    def console_script(self, name: str, *arguments: str, cwd: Path) -> str:
        return self._run(self.python.parent / name, *arguments, cwd=cwd, env=_without_our_variables()).stdout.strip()

    def look_up(self, *names: str, cwd: Path, ext_trainer: str | None = None) -> dict:
        env = _without_our_variables()
        if ext_trainer is not None:
            env["nnUNet_extTrainer"] = ext_trainer
        return json.loads(self._run(self.python, "-c", LOOKUP, *names, cwd=cwd, env=env).stdout.splitlines()[-1])


def _without_our_variables() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if k != "nnUNet_extTrainer" and k != "PYTHONPATH"}


@pytest.fixture(scope="module")
def fresh(tmp_path_factory) -> FreshEnvironment:
    if subprocess.run([sys.executable, "-m", "pip", "--version"], capture_output=True).returncode != 0:
        pytest.skip("pip is not installed in this environment")
    return FreshEnvironment(tmp_path_factory.mktemp("fresh") / "venv")


@pytest.fixture(scope="module")
def checkout(tmp_path_factory) -> Path:
    """A copy of the checkout (its symlinks kept), so that pip's in-tree build leaves no ``build/`` here."""
    copy = tmp_path_factory.mktemp("checkout") / "nnunet-t1t2"
    shutil.copytree(REPO, copy, symlinks=True, ignore=shutil.ignore_patterns(
        ".git", "build", "dist", "*.egg-info", "__pycache__", ".pytest_cache", "venv", ".venv"))
    return copy


@pytest.fixture
def users_folder(tmp_path) -> Path:
    folder = tmp_path / "my_trainers"
    folder.mkdir()
    (folder / "my_trainer.py").write_text(USER_TRAINER, encoding="utf-8")
    return folder


def test_pip_install_makes_the_trainers_visible_to_stock_nnunet_and_uninstall_leaves_it_as_before(
        fresh, checkout, users_folder, tmp_path):
    fresh.pip("install", "--no-deps", str(checkout))
    pth = fresh.site_packages / "nnunet_t1t2-trainers.pth"
    assert pth.is_file()

    # no variable, no command: ours next to nnU-Net's, each class once, under its package name
    seen = fresh.look_up("HybridMulTrainer", "FineTune12ConvTrainer_Paper", "nnUNetTrainerNoMirroring", cwd=tmp_path)
    assert seen["found"]["HybridMulTrainer"] == "nnunet_t1t2.trainers.hybrid"
    assert seen["found"]["FineTune12ConvTrainer_Paper"] == "nnunet_t1t2.trainers.fine_tuning"
    assert seen["found"]["nnUNetTrainerNoMirroring"].startswith("nnunetv2.training.nnUNetTrainer.variants")
    assert seen["top_level"] == []
    ours = fresh.site_packages / "nnunet_t1t2" / "nnunet_ext_trainer"
    assert seen["nnUNet_extTrainer"] == str(ours) == fresh.console_script("nnunet-t1t2", "trainers-path", cwd=tmp_path)

    # from the checkout's root the source tree comes first on sys.path: the same imports work
    seen = fresh.look_up("HybridMulTrainer", cwd=checkout)
    assert seen["found"] == {"HybridMulTrainer": "nnunet_t1t2.trainers.hybrid"} and seen["top_level"] == []

    fresh.pip("uninstall", "-y", "nnunet-t1t2")
    assert not any(p.name.startswith(OURS) for p in fresh.site_packages.iterdir())
    # nothing appended any more; a user's folder and a stale entry naming a checkout's folder (a shell
    # profile outliving the uninstall) break no lookup
    listed = os.pathsep.join([str(checkout / "nnunet_t1t2" / "nnunet_ext_trainer"), str(users_folder)])
    seen = fresh.look_up("nnUNetTrainerNoMirroring", "UsersOwnTrainer", "HybridMulTrainer", cwd=tmp_path,
                         ext_trainer=listed)
    assert seen["nnUNet_extTrainer"] == listed
    assert seen["found"]["nnUNetTrainerNoMirroring"].startswith("nnunetv2.training.nnUNetTrainer.variants")
    assert seen["found"]["UsersOwnTrainer"] == "my_trainer" and seen["found"]["HybridMulTrainer"] is None


def test_editable_install_too_and_a_users_folders_keep_working(fresh, checkout, users_folder, tmp_path):
    fresh.pip("install", "--no-deps", "-e", str(checkout))
    pth = fresh.site_packages / "nnunet_t1t2-trainers.pth"
    assert pth.is_file()
    seen = fresh.look_up("UsersOwnTrainer", "SEUNetTrainer_Paper", cwd=tmp_path, ext_trainer=str(users_folder))
    assert seen["found"] == {"UsersOwnTrainer": "my_trainer", "SEUNetTrainer_Paper": "nnunet_t1t2.trainers.se_unet"}
    ours = checkout / "nnunet_t1t2" / "nnunet_ext_trainer"
    assert seen["nnUNet_extTrainer"] == os.pathsep.join([str(users_folder), str(ours)])  # theirs first
    fresh.pip("uninstall", "-y", "nnunet-t1t2")
    assert not any(p.name.startswith(OURS) for p in fresh.site_packages.iterdir())


def test_the_packages_import_from_the_repository_root():
    """``python -m pytest`` and notebooks start in the root, where the source tree shadows any installed copy."""
    code = ("import nnunet_t1t2.trainers, nnunet_t1t2.plans.presets, nnunet_t1t2.dataset_conversion; "
            "print(nnunet_t1t2.trainers.__file__, nnunet_t1t2.plans.__file__, nnunet_t1t2.dataset_conversion.__file__)")
    result = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, encoding="utf-8",
                            errors="replace", env=_without_our_variables())
    assert result.returncode == 0, result.stderr
    for path in result.stdout.split():
        assert Path(path).resolve().is_relative_to(REPO)


def _imports_between_our_modules() -> dict[str, set[str]]:
    """Module -> the modules of ours it imports, at the top or inside a function (both make a circle)."""
    files = {}
    for folder, _, names in os.walk(REPO / "nnunet_t1t2", followlinks=True):  # trainers/ etc. are symlinks
        for name in names:
            if name.endswith(".py"):
                parts = (Path(folder) / name).relative_to(REPO).with_suffix("").parts
                files[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = Path(folder) / name

    def ours(name: str) -> str | None:
        while name and name not in files:
            name = name.rpartition(".")[0]
        return name or None

    graph = {}
    for module, path in files.items():
        imported = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                imported |= {ours(f"{node.module}.{alias.name}") for alias in node.names}
            elif isinstance(node, ast.Import):
                imported |= {ours(alias.name) for alias in node.names}
        # a module's own package (__init__) is imported before it anyway: not an edge of a circle
        graph[module] = {m for m in imported if m and m != module and not module.startswith(f"{m}.")}
    return graph


def test_no_import_circles_and_the_library_does_not_import_the_trainers():
    graph = _imports_between_our_modules()
    graphlib.TopologicalSorter(graph).prepare()  # raises CycleError naming the circle
    packages: dict[str, set[str]] = {}  # nnunet_t1t2.training -> nnunet_t1t2.transfer ...: a circle too
    for module, imported in graph.items():
        package = ".".join(module.split(".")[:2])
        packages.setdefault(package, set()).update(".".join(m.split(".")[:2]) for m in imported)
    graphlib.TopologicalSorter({p: used - {p} for p, used in packages.items()}).prepare()
    users_of_the_trainers = ("nnunet_t1t2.trainers", "nnunet_t1t2.cli", "nnunet_t1t2.nnunet_ext_trainer")
    library = {m for m in graph if not m.startswith(users_of_the_trainers)}
    assert not [m for m in library if any(d.startswith("nnunet_t1t2.trainers") for d in graph[m])]


def test_find_trainer_class_is_nnunets_own_lookup_with_our_folder_appended(monkeypatch, users_folder):
    import nnunet_t1t2.trainers as ours
    from nnunet_t1t2.discovery import find_trainer_class, trainers_folder, with_our_trainers
    from nnunet_t1t2.errors import UserError

    monkeypatch.setenv("nnUNet_extTrainer", str(users_folder))
    assert find_trainer_class("FineTune12ConvTrainer_Paper") is ours.FineTune12ConvTrainer_Paper
    assert find_trainer_class("UsersOwnTrainer").__module__ == "my_trainer"
    listed = os.pathsep.join([str(users_folder), str(trainers_folder())])
    assert os.environ["nnUNet_extTrainer"] == listed
    assert with_our_trainers({"nnUNet_extTrainer": listed})["nnUNet_extTrainer"] == listed  # once only
    with pytest.raises(UserError, match="NoSuchTrainer not found"):
        find_trainer_class("NoSuchTrainer")
