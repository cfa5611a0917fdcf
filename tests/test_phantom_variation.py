"""Phantom variations: each setting changes what it names, on the same patients, and nothing else."""
from __future__ import annotations

import json

import numpy as np
import pytest

from nnunet_t1t2.cli import main
from nnunet_t1t2.labels import BONE
from nnunet_t1t2.phantom import SIZES, PhantomVariation, simulate_patient
from nnunet_t1t2.phantom.sizes import varied_size
from nnunet_t1t2.phantom.tissues import Tissue

SEED, INDEX = 4, 1


def patient(variation: PhantomVariation = PhantomVariation(), has_t2: bool = False):
    return simulate_patient(SEED, INDEX, varied_size(SIZES["small"], variation), has_t2, variation=variation)


@pytest.fixture(scope="module")
def default():
    return patient()


def bone_fraction(p) -> float:
    truth = p.volumes["truth_t1"].array
    return float((truth == BONE).sum() / (truth > 0).sum())


def test_the_default_variation_is_the_phantom_itself(default):
    assert varied_size(SIZES["small"], PhantomVariation()) is SIZES["small"]
    assert "variation" not in default.record


def test_noise_and_bias_change_the_image_only(default):
    noisy = patient(PhantomVariation(noise_scale=3.0, bias_scale=2.0))
    assert noisy.record["variation"] == {"noise_scale": 3.0, "bias_scale": 2.0}
    for name in ("truth_t1", "tissues_t1", "ct"):
        np.testing.assert_array_equal(noisy.volumes[name].array, default.volumes[name].array)
    assert noisy.record["anatomy"] == default.record["anatomy"]
    acquired, reference = noisy.record["acquisition"]["t1"], default.record["acquisition"]["t1"]
    assert acquired["noise_sigma"] == pytest.approx(3 * reference["noise_sigma"])
    assert acquired["bias_coefficients"] == pytest.approx([2 * c for c in reference["bias_coefficients"]])
    air = default.volumes["truth_t1"].array == 0
    assert noisy.volumes["t1"].array[air].std() > 2 * default.volumes["t1"].array[air].std()


def test_a_thinner_skull_has_less_bone(default):
    thin = patient(PhantomVariation(skull_scale=0.6))
    assert thin.record["anatomy"]["skull_mm"] == pytest.approx(
        {k: 0.6 * v for k, v in default.record["anatomy"]["skull_mm"].items()})
    assert thin.record["anatomy"]["min_bone_mm"] == pytest.approx(0.6 * SIZES["small"].min_bone_mm)
    assert bone_fraction(thin) < 0.8 * bone_fraction(default)


def test_thinner_tables_widen_the_diploe(default):
    wide = patient(PhantomVariation(table_scale=0.5))
    marrow = [int((p.volumes["tissues_t1"].array == Tissue.MARROW).sum()) for p in (default, wide)]
    assert marrow[1] > 2 * marrow[0]
    assert bone_fraction(wide) < bone_fraction(default)


def test_marrow_contrast_moves_marrow_towards_bone_on_t1_only(default):
    dark = patient(PhantomVariation(marrow_t1_contrast=0.25), has_t2=True)
    reference = patient(has_t2=True)
    marrow, bone = str(int(Tissue.MARROW)), str(int(Tissue.CORTICAL_BONE))
    gap = {name: p.legend[marrow]["t1w"] - p.legend[bone]["t1w"] for name, p in (("dark", dark), ("ref", reference))}
    assert gap["dark"] == pytest.approx(0.25 * gap["ref"], abs=1e-4)
    assert dark.legend[marrow]["t2w"] == reference.legend[marrow]["t2w"]
    np.testing.assert_array_equal(dark.volumes["truth_t1"].array, default.volumes["truth_t1"].array)


def test_head_size_scales_the_head_and_its_fields_of_view(default):
    large = patient(PhantomVariation(head_scale=1.15))
    assert large.record["anatomy"]["scale"] == pytest.approx(1.15 * default.record["anatomy"]["scale"])
    for name in ("t1", "ct"):
        size, reference = np.array(large.volumes[name].grid.size), np.array(default.volumes[name].grid.size)
        assert np.all(np.abs(size - 1.15 * reference) <= 1)
        assert large.volumes[name].grid.spacing == default.volumes[name].grid.spacing


def test_voxels_and_slices_set_the_mr_grid_and_keep_the_field_of_view(default):
    fine = patient(PhantomVariation(mr_voxel_mm=2.0, slice_mm=6.0))
    grid, reference = fine.volumes["t1"].grid, default.volumes["t1"].grid
    assert grid.spacing == (2.0, 2.0, 6.0)
    np.testing.assert_allclose(np.multiply(grid.size, grid.spacing), np.multiply(reference.size, reference.spacing),
                               atol=6.0)
    assert fine.volumes["ct"].grid == default.volumes["ct"].grid


def test_the_command_line_writes_the_variation_and_refuses_bad_values(tmp_path, capsys):
    out = tmp_path / "out"
    assert main(["phantom", "--out", str(out), "--n", "1", "--n-t2", "0", "--skull-scale", "0.7",
                 "--marrow-t1-contrast", "0.5"]) == 0
    recorded = json.loads((out / "phantom_000" / "phantom.json").read_text(encoding="utf-8"))
    assert recorded["variation"] == {"skull_scale": 0.7, "marrow_t1_contrast": 0.5}
    assert main(["phantom", "--out", str(tmp_path / "bad"), "--n", "1", "--head-scale", "2"]) == 2
    assert "head scale must lie between" in capsys.readouterr().err
