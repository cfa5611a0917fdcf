"""A data set's ``conversion.json``: what each case was made from and how, which were left out, and
the tissue HU of the training cases' CTs (:mod:`.tissue_hu`).

A case counts as converted only once its record is here, and a re-run skips a case whose record
matches the inputs (file fingerprints), the settings and the place (training or test) it would
get now. During a run the file holds the previous records plus the cases finished so far, so a
killed run loses nothing already done; at the end it holds exactly this run's cases.
"""
from __future__ import annotations

import json
from pathlib import Path

from nnunet_t1t2 import __version__
from nnunet_t1t2.atomic import write_json_atomically
from nnunet_t1t2.conversion.raw_dataset import CasePaths
from nnunet_t1t2.conversion.tissue_hu import DATASET_KEY, training_median_hu

MANIFEST = "conversion.json"


class Manifest:
    def __init__(self, dataset_folder: Path):
        self.path = dataset_folder / MANIFEST
        self._previous: dict[str, dict] = json.loads(self.path.read_text(encoding="utf-8"))["cases"] if self.path.is_file() else {}
        self.cases: dict[str, dict] = {}
        self.left_out: dict[str, str] = {}

    def keep_if_up_to_date(self, case: str, identity: dict, paths: CasePaths) -> bool:
        """Keep the previous record of ``case`` if it has all of ``identity`` (in its JSON form) and
        the case's files exist; True if kept."""
        record = self._previous.get(case)
        if record is None or any(record.get(key) != value for key, value in identity.items()) or not paths.exist():
            return False
        self.cases[case] = record
        return True

    def add(self, case: str, record: dict) -> None:
        """Record a case whose files are in place."""
        self.cases[case] = record
        self._write({**self._previous, **self.cases})

    def leave_out(self, case: str, reason: str) -> None:
        self.left_out[case] = reason

    def finish(self) -> None:
        """Write this run's records only."""
        self._write(self.cases)

    def _write(self, cases: dict[str, dict]) -> None:
        write_json_atomically(self.path, {"written_by": f"nnunet_t1t2 {__version__}",
                                          "cases": dict(sorted(cases.items())),
                                          "left_out": dict(sorted(self.left_out.items())),
                                          DATASET_KEY: training_median_hu(cases)})
