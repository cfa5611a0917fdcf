"""Run a study: set up its folder, then each step that is not done yet, one progress line each.

A failed step stops the study with a message naming the step and its log; running the same command
again skips what finished and picks up at that step.
"""
from __future__ import annotations

import os
import sys
import time
from pathlib import Path
from typing import TextIO

from nnunet_t1t2.errors import UserError
from nnunet_t1t2.output_folder import writable_folder
from nnunet_t1t2.study.commands import CommandRunner
from nnunet_t1t2.study.layout import StudyLayout
from nnunet_t1t2.study.markdown import duration
from nnunet_t1t2.study.protocol import Protocol
from nnunet_t1t2.study.state import StudyState
from nnunet_t1t2.study.steps import StudyContext, study_steps

PHANTOM = "phantom"


def run_study(protocol: Protocol, data: str, out: Path, device: str | None = None,
              stream: TextIO = sys.stdout) -> Path:
    """Run (or continue) the study of ``protocol`` on ``data`` (a folder of patients, or "phantom")
    in ``out``; return the report's path."""
    from nnunet_t1t2.conversion.pipeline import default_name

    out = writable_folder(out)
    data_dir = out / PHANTOM if data == PHANTOM else existing_data_folder(data)
    layout = StudyLayout(out, default_name(data_dir), protocol.plans_name)
    device = device or default_device()
    runner = CommandRunner.for_study(layout.raw, layout.preprocessed, layout.results, device)
    state = StudyState.open(layout.state, protocol.setup(PHANTOM if data == PHANTOM else str(data_dir)))
    context = StudyContext(protocol, layout, runner, data_dir, workers=min(os.cpu_count() or 1, 8))

    steps = study_steps(protocol, generate_phantom=data == PHANTOM)
    print(f"study in {out} ({protocol.preset} preset, device {device}); logs in {out / 'logs'}", file=stream)
    started = time.perf_counter()
    for number, step in enumerate(steps, 1):
        print(f"[{number}/{len(steps)}] {step.title} ...", end=" ", file=stream, flush=True)
        if step.is_done(context, state):
            print("skipped (done)", file=stream, flush=True)
            continue
        step_started = time.perf_counter()
        try:
            step.run(context)
        except UserError as e:
            print("failed", file=stream, flush=True)
            raise UserError(f"step [{number}/{len(steps)}] {step.title} failed: {e}\nFix the cause and run the "
                            f"same command again; finished steps are skipped.") from None
        seconds = time.perf_counter() - step_started
        state.record(step.key, step.title, seconds)
        print(f"done in {seconds:.0f} s", file=stream, flush=True)
    print(f"study finished in {duration(time.perf_counter() - started)}", file=stream)
    return layout.report


def existing_data_folder(data: str) -> Path:
    folder = Path(data).resolve()
    if not folder.is_dir():
        raise UserError(f"--data {data}: no such folder. Give a folder of patients <patient>/{{t1,t2,ct}} "
                        f"(see `nnunet-t1t2 convert --help`), or `--data phantom` for the built-in phantom")
    return folder


def default_device() -> str:
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"
