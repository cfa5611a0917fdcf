"""The registration check's registry: a check added as one entry is judged, shown and configurable everywhere."""
import pytest

from nnunet_t1t2.cli import build_parser
from nnunet_t1t2.cli.convert import conversion_choices
from nnunet_t1t2.conversion.choices import ConversionChoices
from nnunet_t1t2.conversion.quality import QUALITY_CHECKS, QualityCheck, QualityLimits, qc_title, quality_problems
from nnunet_t1t2.errors import UserError
from nnunet_t1t2.options import Setting

COVERAGE = QualityCheck(
    "CT coverage", (Setting("min_ct_coverage", 0.9, "--min-ct-coverage", "least fraction of the MR grid the CT covers",
                            bounds=(0, 1)),),
    ("ct_covers_mr_fraction",),
    lambda q, limits: ([f"the CT covers {q['ct_covers_mr_fraction']:.2f} of the MR"]
                       if q["ct_covers_mr_fraction"] < limits.min_ct_coverage else []),
    lambda q, limits: f"CT covers {q['ct_covers_mr_fraction']:.2f} (least {limits.min_ct_coverage:g})")
RECORD = {"ct_covers_mr_fraction": 0.85, "head_mask_dice": 0.97, "bone_signal_ratio": 0.4}


@pytest.fixture
def coverage_check(monkeypatch):
    monkeypatch.setitem(QUALITY_CHECKS, COVERAGE.name, COVERAGE)


@pytest.mark.parametrize("verb", ["convert", "study"])
def test_a_new_check_is_an_option_with_its_default(coverage_check, verb):
    parser = build_parser(only=verb)
    sub = parser._subparsers._group_actions[0].choices[verb]
    assert "--min-ct-coverage" in sub.format_help() and "the CT covers [0.9]" in " ".join(sub.format_help().split())
    required = ["--input", "x", "--t1-id", "1"] if verb == "convert" else ["--data", "x", "--out", "y", "--preset", "demo"]
    args = parser.parse_args([verb, *required, "--min-ct-coverage", "0.95"])
    limits = conversion_choices(args, study=verb == "study").settings().quality
    assert limits.min_ct_coverage == 0.95 and limits.min_head_dice == 0.8


def test_a_new_checks_limit_is_recorded_judged_and_in_the_title(coverage_check, tmp_path):
    choices = ConversionChoices(values={"min_ct_coverage": 0.8})
    settings = choices.settings()
    assert settings.as_dict()["quality_limits"]["min_ct_coverage"] == 0.8  # the record of every case
    assert quality_problems(RECORD, settings.quality) == []
    strict = QualityLimits.with_values(min_ct_coverage=0.9)
    assert quality_problems(RECORD, strict) == ["the CT covers 0.85 of the MR"]
    assert qc_title("p", "T1", RECORD, strict) == "p T1: head-mask Dice 0.970 (least 0.8), MR signal in bone " \
                                                  "0.40 of soft tissue's, CT covers 0.85 (least 0.9)"
    choices.write(tmp_path / "settings.json")
    assert ConversionChoices.read(tmp_path / "settings.json").settings() == settings
    with pytest.raises(UserError, match="--min-ct-coverage must lie in \\[0, 1\\], not 2"):
        ConversionChoices(values={"min_ct_coverage": 2})


def test_checks_apply_only_where_their_figures_were_measured():
    registered = {"head_mask_dice": 0.5, "bone_signal_ratio": None}  # registered input: no pose figures
    assert quality_problems(registered, QualityLimits()) == [
        "the head masks of the MR and of the registered CT overlap with Dice 0.50 < 0.8",
        "no bone or no soft tissue with MR signal inside the head after registration"]
    assert qc_title("p", "T2", registered, QualityLimits()) == "p T2: head-mask Dice 0.500 (least 0.8)"


def test_a_settings_file_is_refused_by_name_for_what_it_gets_wrong(tmp_path):
    wrong = tmp_path / "conversion_settings.json"
    wrong.write_text('{"settings": {"bone_hu": 600, "min_head_dise": 0.7}}', encoding="utf-8")
    with pytest.raises(UserError, match=f"{wrong}: .*unknown setting\\(s\\) min_head_dise"):
        ConversionChoices.read(wrong)
    wrong.write_text('{"settings": {}, "acept": []}', encoding="utf-8")
    with pytest.raises(UserError, match="unknown entries acept"):
        ConversionChoices.read(wrong)
    wrong.write_text("{", encoding="utf-8")
    with pytest.raises(UserError, match=str(wrong)):
        ConversionChoices.read(wrong)


def test_options_on_the_command_line_win_over_the_settings_file(tmp_path):
    ConversionChoices("paired", {"bone_hu": 700.0, "folds": 1}, ("p1",)).write(tmp_path / "s.json")
    args = build_parser(only="convert").parse_args(["convert", "--input", "x", "--t1-id", "1", "--settings",
                                                    str(tmp_path / "s.json"), "--bone-hu", "650", "--accept", "p2"])
    choices = ConversionChoices.read(args.settings).updated(conversion_choices(args))
    assert (choices.layout, choices.settings().thresholds.bone_hu, choices.split().folds) == ("paired", 650.0, 1)
    assert choices.accept == ("p1", "p2")
