"""Built-in predictions, so that every report has reference points:

- ``reference``: the row's own target, written as the SFT helper writes the completion (fences
  and the chosen views included), so it also checks that reading completions loses nothing;
- ``nearest``: the target of the train row whose source is most like this row's (character
  n-gram TF-IDF, cosine), with its kernel, mangled and module names changed to this row's: the
  floor a model must beat;
- ``mutate``: one seeded mutation of the reference target (``mutation.py``): the harness's own
  test, as mutation testing measures a test suite.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from generation.evaluation.mutation import mutate
from generation.training import sft

Row = dict[str, Any]
MUTATION_SEED = 7
NGRAMS = (3, 4, 5)


def reference(rows: Sequence[Row], task: str, views: tuple[str, ...], train: Sequence[Row]) -> dict[str, dict]:
    options = dict.fromkeys(views, True)
    return {row["id"]: {"text": sft.format_row(row, task, **options)["completion"]} for row in rows}


def _grams(text: str) -> Counter:
    line = " ".join(text.split())
    return Counter(line[i : i + n] for n in NGRAMS for i in range(len(line) - n + 1))


class NearestSources:
    """Character n-gram TF-IDF over the train rows' sources, searched by cosine similarity."""

    def __init__(self, sources: Sequence[str]):
        self.vocabulary: dict[str, int] = {}
        documents = [_grams(source) for source in sources]
        frequency: Counter = Counter(gram for document in documents for gram in document)
        self.idf = {gram: math.log((1 + len(documents)) / (1 + count)) + 1 for gram, count in frequency.items()}
        self.vocabulary = {gram: k for k, gram in enumerate(sorted(frequency))}
        postings: list[tuple[int, int, float]] = []
        for number, document in enumerate(documents):
            weights = {gram: count * self.idf[gram] for gram, count in document.items()}
            norm = math.sqrt(sum(w * w for w in weights.values())) or 1.0
            postings += [(self.vocabulary[gram], number, w / norm) for gram, w in weights.items()]
        postings.sort()
        table = np.array(postings, dtype=np.float64).reshape(-1, 3)
        self.terms, self.documents, self.weights = (
            table[:, 0].astype(np.int64),
            table[:, 1].astype(np.int64),
            table[:, 2],
        )
        self.count = len(documents)

    def nearest(self, source: str, besides: int | None = None) -> int:
        """The index of the most similar train source (the first of equals), ``besides`` excluded."""
        query = {gram: count * self.idf[gram] for gram, count in _grams(source).items() if gram in self.vocabulary}
        if not query:
            return 0 if besides != 0 else min(1, self.count - 1)
        norm = math.sqrt(sum(w * w for w in query.values()))
        terms = np.array([self.vocabulary[gram] for gram in query])
        starts, stops = np.searchsorted(self.terms, terms), np.searchsorted(self.terms, terms, side="right")
        scores = np.zeros(self.count)
        for weight, start, stop in zip(query.values(), starts, stops, strict=True):
            scores[self.documents[start:stop]] += self.weights[start:stop] * (weight / norm)
        if besides is not None and self.count > 1:
            scores[besides] = -1.0
        return int(np.argmax(scores))


def _renamed(text: str, donor: Row, row: Row) -> str:
    """``donor``'s text with its kernel, mangled and module names made ``row``'s."""
    for old, new in (
        (donor["metadata"]["mangled_name"], row["metadata"]["mangled_name"]),
        (donor["metadata"]["module_name"], row["metadata"]["module_name"]),
        (donor["kernel_name"], row["kernel_name"]),
    ):
        text = text.replace(old, new)
    return text


def nearest(rows: Sequence[Row], task: str, views: tuple[str, ...], train: Sequence[Row]) -> dict[str, dict]:
    if not train:
        raise ValueError("the nearest baseline needs a train split to retrieve from; this data has none")
    spec = sft.TASKS[task]
    index = NearestSources([donor[spec.source] for donor in train])
    position = {donor["id"]: k for k, donor in enumerate(train)}  # scoring the train split: not itself
    predictions = {}
    for row in rows:
        donor = train[index.nearest(row[spec.source], position.get(row["id"]))]
        text = _renamed(donor[spec.target].strip("\n"), donor, row)
        if "compact" in views and spec.target != "python_source" and row["device"] != "ptx":
            text = sft.compact(text).strip("\n")
        predictions[row["id"]] = {"text": text, "note": f"from train row {donor['id']}"}
    return predictions


def mutants(rows: Sequence[Row], task: str, views: tuple[str, ...], train: Sequence[Row]) -> dict[str, dict]:
    spec = sft.TASKS[task]
    predictions = {}
    for row in rows:
        target = row[spec.target].strip("\n")
        language = "python" if spec.target == "python_source" else "ptx" if row["device"] == "ptx" else "cpp"
        mutant = mutate(target, language, MUTATION_SEED, row["id"], row["kernel_name"])
        if mutant is not None:
            predictions[row["id"]] = {"text": mutant.code, "note": f"{mutant.kind}: {mutant.change}"}
    return predictions


BASELINES: dict[str, Callable[[Sequence[Row], str, tuple[str, ...], Sequence[Row]], dict[str, dict]]] = {
    "reference": reference,
    "nearest": nearest,
    "mutate": mutants,
}
