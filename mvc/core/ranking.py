"""Three or more versions side by side (SPEC §3 ``mvc diff REF_1 REF_2 REF_3 …``): each
metric's values and its best version (by the metric's direction), the params whose values
differ, and a recommendation by the primary metric with the two-way diff's threshold rule
(``compare.performance``). The first version is the baseline."""

from __future__ import annotations

from typing import Any, Mapping

from mvc.core.compare import INSUFFICIENT, RECOMMEND_B, SIMILAR, Settings, performance
from mvc.core.metrics import same_value

RECOMMEND = "RECOMMEND"


def _number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def best_of(values: Mapping[str, Any], lower_better: bool) -> str | None:
    """The ref whose number is best; on a tie the one given first (the baseline wins ties)."""
    best: str | None = None
    for ref, v in values.items():
        if _number(v) and (best is None or (v < values[best] if lower_better else v > values[best])):
            best = ref
    return best


def recommend(metrics: Mapping[str, Mapping[str, Any]], refs: list[str], s: Settings) -> dict[str, Any]:
    """``RECOMMEND`` the version whose primary metric is best when it beats the baseline by
    more than the threshold (as RECOMMEND_B would in a two-way diff of the baseline and it);
    else ``SIMILAR_PERFORMANCE``, naming the baseline to keep; ``INSUFFICIENT_DATA`` (ref
    null) when the baseline or every other version lacks the primary metric."""
    values = metrics.get(s.primary_metric, {})
    baseline = refs[0]
    if not _number(values.get(baseline)) or not any(_number(values.get(r)) for r in refs[1:]):
        return {"verdict": INSUFFICIENT, "ref": None}
    best = best_of({r: values.get(r) for r in refs}, s.lower_better(s.primary_metric))
    p = s.primary_metric
    if best != baseline and performance({p: values[baseline]}, {p: values[best]}, s)[1] == RECOMMEND_B:
        return {"verdict": RECOMMEND, "ref": best}
    return {"verdict": SIMILAR, "ref": baseline}


def compare_many(sides: list[tuple[str, Mapping[str, Any], Mapping[str, Any]]], s: Settings) -> dict[str, Any]:
    """``sides`` are (ref, metrics, params) in the order given, the baseline first; the
    plain dict that ``mvc diff --json`` prints for three or more versions."""
    refs = [ref for ref, _, _ in sides]
    names = sorted({k for _, metrics, _ in sides for k, v in metrics.items() if _number(v)})
    metrics = {n: {ref: m[n] for ref, m, _ in sides if _number(m.get(n))} for n in names}
    best = {n: best_of(metrics[n], s.lower_better(n)) for n in names}
    keys = sorted({k for _, _, params in sides for k in params})
    params = {}
    for k in keys:
        present = {ref: p[k] for ref, _, p in sides if k in p}
        values = list(present.values())  # equal as in the two-way diff (compare_params): 1 == 1.0, true != 1
        if len(present) < len(sides) or any(not same_value(v, values[0]) for v in values):
            params[k] = present
    return {"versions": refs, "metrics": metrics, "best": best, "params": params,
            "recommendation": recommend(metrics, refs, s), "primary_metric": s.primary_metric}
