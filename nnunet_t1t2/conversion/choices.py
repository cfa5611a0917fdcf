"""What the user decides about a conversion besides its input and data set ids, as options or as one file.

Every setting is defined once, where it is used (:class:`~.splits.SplitProtocol`,
:class:`~.tissue.Thresholds`, the checks' limits in :data:`~.quality.QUALITY_CHECKS`); the options of
``nnunet-t1t2 convert`` and ``nnunet-t1t2 study`` are built from those definitions, and the study hands
``convert`` its choices as a file (``convert --settings``), so no option is turned back into a string.
"""
from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from nnunet_t1t2.atomic import write_json_atomically
from nnunet_t1t2.conversion.case import ConversionSettings
from nnunet_t1t2.conversion.quality import QualityLimits, quality_limit_settings
from nnunet_t1t2.conversion.splits import SplitProtocol
from nnunet_t1t2.conversion.tissue import Thresholds
from nnunet_t1t2.errors import UserError
from nnunet_t1t2.options import Setting, known_settings, settings_of


def conversion_settings() -> list[Setting]:
    """The settings of a conversion: the split's, the labels' thresholds, the registration check's limits."""
    return settings_of(SplitProtocol) + settings_of(Thresholds) + quality_limit_settings()


@dataclass(frozen=True)
class ConversionChoices:
    layout: str | None = None
    """The input layout (:mod:`.layouts`); None: not chosen (``auto``)."""
    values: Mapping[str, Any] = field(default_factory=dict)
    """The settings chosen, by name; the others keep their defaults."""
    accept: tuple[str, ...] = ()
    """Images kept although the registration check refuses them (``--accept``)."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "values", known_settings(self.values, conversion_settings(), "conversion settings"))
        self.settings(), self.split()  # refuse a bad value now, not when the conversion starts

    def updated(self, other: ConversionChoices) -> ConversionChoices:
        """``other``'s choices on top of these (its layout if it chose one, its images kept added)."""
        return replace(self, layout=other.layout or self.layout, values={**self.values, **other.values},
                       accept=self.accept + tuple(a for a in other.accept if a not in self.accept))

    def settings(self) -> ConversionSettings:
        return ConversionSettings(Thresholds(**self._of(settings_of(Thresholds))),
                                  quality=QualityLimits.with_values(**self._of(quality_limit_settings())))

    def split(self) -> SplitProtocol:
        return SplitProtocol(**self._of(settings_of(SplitProtocol)))

    def to_json(self) -> dict:
        return {"layout": self.layout, "settings": dict(self.values), "accept": list(self.accept)}

    def write(self, path: Path) -> None:
        write_json_atomically(path, self.to_json())

    @classmethod
    def read(cls, path: Path) -> ConversionChoices:
        """The choices of a settings file (as :meth:`write` writes it); a bad file is refused by name."""
        try:
            record = json.loads(Path(path).read_text(encoding="utf-8"))
            unknown = sorted(set(record) - {"layout", "settings", "accept"})
            if unknown:
                raise UserError(f"unknown entries {', '.join(unknown)}")
            return cls(record.get("layout"), record.get("settings", {}), tuple(record.get("accept", ())))
        except (OSError, ValueError, TypeError, AttributeError, UserError) as e:
            raise UserError(f"conversion settings file {path}: {e}") from None

    def _of(self, settings: list[Setting]) -> dict[str, Any]:
        return {s.name: self.values[s.name] for s in settings if s.name in self.values}
