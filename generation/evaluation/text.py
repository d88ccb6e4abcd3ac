"""Scores on text alone: ``exact`` after whitespace normalisation, and chrF as sacrebleu computes it.

chrF is sacrebleu's sentence chrF with its defaults (character n-grams up to 6, no word n-grams,
beta 2, whitespace removed, effective-order averaging), written out here so that the harness
needs no extra package; ``tests/test_evaluation.py`` holds values sacrebleu 2.4.3 gave.
"""

from __future__ import annotations

from collections import Counter

CHAR_ORDER = 6
BETA = 2


def normalized(text: str) -> str:
    """Every run of whitespace as one space, none at the ends."""
    return " ".join(text.split())


def exact(prediction: str, reference: str) -> bool:
    return normalized(prediction) == normalized(reference)


def _char_ngrams(text: str) -> list[Counter]:
    line = "".join(text.split())
    return [Counter(line[i : i + n] for i in range(len(line) - n + 1)) for n in range(1, CHAR_ORDER + 1)]


def chrf(prediction: str, reference: str) -> float:
    """Sentence chrF (0-100) of ``prediction`` against ``reference``."""
    factor = BETA**2
    precision_sum = recall_sum = 0.0
    effective_order = 0
    for hypothesis, wanted in zip(_char_ngrams(prediction), _char_ngrams(reference), strict=True):
        n_hyp = sum(hypothesis.values()) if wanted else 0
        n_ref = sum(wanted.values())
        if n_hyp > 0 and n_ref > 0:
            matches = sum(min(count, wanted[gram]) for gram, count in hypothesis.items() if gram in wanted)
            precision_sum += matches / n_hyp
            recall_sum += matches / n_ref
            effective_order += 1
    if effective_order == 0:
        return 0.0
    precision, recall = precision_sum / effective_order, recall_sum / effective_order
    if precision + recall == 0:
        return 0.0
    return 100 * (1 + factor) * precision * recall / (factor * precision + recall)
