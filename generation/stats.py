"""Build statistics: what was asked for, what was written, and every skip counted by reason."""

from __future__ import annotations

import json
import logging
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

logger = logging.getLogger(__name__)


@dataclass
class BuildStats:
    requested: int = 0
    rows: int = 0
    skipped: Counter = field(default_factory=Counter)
    first_error: dict[str, str] = field(default_factory=dict)

    def skip(self, reason: str, error: str = "") -> None:
        self.skipped[reason] += 1
        self.first_error.setdefault(reason, error[:500])

    def merge(self, other: BuildStats) -> None:
        self.requested += other.requested
        self.rows += other.rows
        self.skipped.update(other.skipped)
        for reason, text in other.first_error.items():
            self.first_error.setdefault(reason, text)

    def summary(self, split: str) -> str:
        text = f"{split}: {self.rows} of {self.requested} requested rows written"
        if self.skipped:
            reasons = ", ".join(f"{reason}: {count}" for reason, count in sorted(self.skipped.items()))
            text += f"; skipped {sum(self.skipped.values())} ({reasons})"
        return text

    def as_dict(self) -> dict:
        # Not dataclasses.asdict: it rebuilds a Counter from (key, value) pairs, counting the pairs.
        return {
            "requested": self.requested,
            "rows": self.rows,
            "skipped": dict(self.skipped),
            "first_error": self.first_error,
        }

    def save(self, path: Path) -> None:
        path.write_text(json.dumps(self.as_dict(), sort_keys=True))

    @classmethod
    def load(cls, path: Path) -> BuildStats:
        data = json.loads(path.read_text())
        return cls(data["requested"], data["rows"], Counter(data["skipped"]), data["first_error"])

    @classmethod
    def collect(cls, directory: Path, pattern: str) -> BuildStats:
        total = cls()
        for path in sorted(directory.glob(pattern)):
            total.merge(cls.load(path))
        return total
