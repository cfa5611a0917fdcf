"""documentation/cli.md is what argparse prints now, so the reference cannot fall behind the options."""
from pathlib import Path

from nnunet_t1t2.cli import VERBS, build_parser
from nnunet_t1t2.cli.reference import COMMAND, render, verb_parsers

REFERENCE = Path(__file__).resolve().parents[1] / "documentation" / "cli.md"


def test_the_committed_reference_is_what_the_generator_prints_now():
    assert REFERENCE.read_text(encoding="utf-8") == render(), f"documentation/cli.md is stale: run `{COMMAND}`"


def test_the_reference_holds_every_verb_and_every_option_it_has():
    parser = build_parser()
    assert list(verb_parsers(parser)) == list(VERBS)
    reference = render(parser)
    for verb, sub in verb_parsers(parser).items():
        section = reference.split(f"\n## nnunet-t1t2 {verb}\n", 1)[1].split("\n## ", 1)[0]
        for action in sub._actions:
            for option in action.option_strings:
                assert option in section, f"{verb}: {option}"


def test_an_option_added_to_a_verb_changes_the_reference():
    parser = build_parser()
    verb_parsers(parser)["study"].add_argument("--an-option-nobody-wrote", help="new in this test")
    assert "--an-option-nobody-wrote" in render(parser)


def test_the_wrapping_does_not_follow_the_terminal(monkeypatch):
    monkeypatch.setenv("COLUMNS", "40")
    narrow = render()
    monkeypatch.setenv("COLUMNS", "250")
    assert render() == narrow
