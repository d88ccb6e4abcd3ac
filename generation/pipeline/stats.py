"""Build statistics, one model for every stage: what a split asked for, what it wrote, and every
skip counted under a typed reason (the stage it failed at and a kind), never parsed from text.

Once a split is built, ``rows + skipped == requested + replaced``: every kernel asked for, and
every further draw that replaced one that failed a stage, is a row or a counted skip.
"""

from __future__ import annotations

import json
import logging
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from generation.source.spec import Failure

logger = logging.getLogger(__name__)

# Where a kernel can fail, in the order a build meets them.
SKIP_STAGES = ("harvest", "plan", "codegen", "compile", "run")


@dataclass(frozen=True, order=True)
class Reason:
    """Why kernels were skipped: a stage of ``SKIP_STAGES`` and a kind (``codegen:WarpCodegenError``)."""

    stage: str
    kind: str

    def __post_init__(self) -> None:
        if self.stage not in SKIP_STAGES:
            raise ValueError(f"unknown stage {self.stage!r}; stages are {list(SKIP_STAGES)}")

    def __str__(self) -> str:
        return f"{self.stage}:{self.kind}"

    @classmethod
    def from_key(cls, key: str) -> Reason:
        """The reason a saved statistics file wrote as ``stage:kind``."""
        stage, kind = key.split(":", 1)
        return cls(stage, kind)


@dataclass
class BuildStats:
    requested: int = 0  # kernels this split asked for: set by planning
    rows: int = 0
    replaced: int = 0  # further draws built in place of kernels that failed a stage
    skipped: Counter[Reason] = field(default_factory=Counter)
    first_error: dict[Reason, str] = field(default_factory=dict)
    # Real builds from packages: each package's skips (``skrl==2.1.1``), for the card's package table.
    package_skips: dict[str, Counter[Reason]] = field(default_factory=dict)
    # A real build of every kernel it finds: ``requested`` counts the kernels found (and the harvest's
    # skips), which nobody asked for by number, and no replacement exists for one that fails.
    found: bool = False

    def skip(self, reason: Reason, error: str = "", package: str = "") -> None:
        self.skipped[reason] += 1
        self.first_error.setdefault(reason, error[:500])
        if package:
            self.package_skips.setdefault(package, Counter())[reason] += 1

    def skip_failure(self, stage: str, failure: Failure) -> None:
        self.skip(Reason(stage, failure.kind), failure.message, failure.package)

    @property
    def total_skipped(self) -> int:
        return sum(self.skipped.values())

    def merge(self, other: BuildStats) -> None:
        self.requested += other.requested
        self.rows += other.rows
        self.replaced += other.replaced
        self.found = self.found or other.found
        self.skipped.update(other.skipped)
        for reason, text in other.first_error.items():
            self.first_error.setdefault(reason, text)
        for package, skipped in other.package_skips.items():
            self.package_skips.setdefault(package, Counter()).update(skipped)

    def summary(self, split: str, requested: int | None = None) -> str:
        """One line: rows written of requested, or of the kernels found (``requested`` when given: a
        shard's own share, which its statistics leave to the plan's), then skips and replacements."""
        requested = self.requested if requested is None else requested
        if self.found:
            text = f"{split}: {self.rows} rows from {requested} harvested kernels"
        else:
            text = f"{split}: {self.rows} of {requested} requested rows written"
        if self.skipped:
            reasons = ", ".join(f"{reason}: {count}" for reason, count in sorted(self.skipped.items()))
            text += f"; skipped {self.total_skipped} ({reasons})"
        if self.replaced:
            text += f"; {self.replaced} further draws replaced skipped kernels"
        return text

    def as_dict(self) -> dict:
        data = {
            "requested": self.requested,
            "rows": self.rows,
            "replaced": self.replaced,
            "skipped": {str(reason): count for reason, count in sorted(self.skipped.items())},
            "first_error": {str(reason): text for reason, text in sorted(self.first_error.items())},
            "found": self.found,
        }
        if self.package_skips:
            data["package_skips"] = {
                package: {str(reason): n for reason, n in sorted(skipped.items())}
                for package, skipped in sorted(self.package_skips.items())
            }
        return data

    @classmethod
    def from_dict(cls, data: dict) -> BuildStats:
        return cls(
            data["requested"],
            data["rows"],
            data.get("replaced", 0),
            Counter({Reason.from_key(key): count for key, count in data["skipped"].items()}),
            {Reason.from_key(key): text for key, text in data["first_error"].items()},
            {
                package: Counter({Reason.from_key(key): n for key, n in skipped.items()})
                for package, skipped in data.get("package_skips", {}).items()
            },
            data.get("found", False),
        )

    def save(self, path: Path) -> None:
        path.write_text(json.dumps(self.as_dict(), sort_keys=True))

    @classmethod
    def load(cls, path: Path) -> BuildStats:
        return cls.from_dict(json.loads(path.read_text()))

    @classmethod
    def collect(cls, directory: Path, pattern: str) -> BuildStats:
        total = cls()
        for path in sorted(directory.glob(pattern)):
            total.merge(cls.load(path))
        return total
