"""One record type for a prediction's scores, shared by the worker (what it measures), the harness
(the text scores, the row's facts, the merge) and the report (``rows.jsonl`` holds one per line).

``None`` means not measured on this machine (``correct`` for CUDA code without a GPU); a
candidate's own failure (a crash, a timeout, a stopped escape, a dead worker while it ran) is
``False`` with its first error. A failure of the harness itself is kept apart, in ``harness``.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields, replace

# What a worker measures of a candidate (and a failure of its own): the fields its score carries back.
MEASURED = ("compiles", "correct", "round_trip", "changed", "error", "harness", "seconds")


@dataclass
class Score:
    source: str
    id: str
    sample: int | None  # None: the source has no prediction for the row
    category: str = ""
    difficulty: str = ""
    config: str = ""
    exact: bool = False
    chrf: float = 0.0
    compiles: bool | None = None
    correct: bool | None = None
    round_trip: bool | None = None
    changed: bool | None = None
    error: str = ""  # the candidate's first error
    harness: str = ""  # what went wrong in the harness, not in the candidate (its scores are then None)
    note: str = ""  # what a baseline did (a mutant's change)
    reference_note: str = ""  # why only the forward outputs were compared, say
    weak: bool = False
    seconds: float = 0.0  # the worker's time for the candidate, compile and runs

    @property
    def key(self) -> tuple[str, str, int | None]:
        return self.source, self.id, self.sample

    def measured(self) -> dict:
        """What a worker sends back of this score."""
        return {"source": self.source, "id": self.id, "sample": self.sample} | {
            name: getattr(self, name) for name in MEASURED
        }

    def merged(self, measured: Score) -> Score:
        """This score with a worker's measurements of the same candidate."""
        return replace(self, **{name: getattr(measured, name) for name in MEASURED})

    def to_json(self) -> dict:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict) -> Score:
        names = {field.name for field in fields(cls)}
        return cls(**{name: value for name, value in data.items() if name in names})
