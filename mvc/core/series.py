"""A model's metrics across its versions (SPEC §3 ``mvc plot``): the data of the chart,
in version order, and what each channel serves (stable and canary); drawing it is the CLI's
business."""

from __future__ import annotations

from typing import Any

from mvc.core.errors import NotFoundError
from mvc.core.query import Sort


def _number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def series(registry, model: str, metrics: list[str] | None, channel_names: list[str]) -> dict[str, Any]:
    """``{"model", "versions", "metrics": {name: [{"version", "value"}]}, "channels": {channel:
    version}, "canaries": {channel: {"version", "percent"} | None}}``: every version, lowest
    first; every metric of ``metrics`` (default: all the model's metrics, by name) over the
    versions that have it, in the same order; each channel's stable version, or None, and
    its canary (SPEC §1: it serves too), or None."""
    rows = registry.find_versions(model, [], Sort("version", None, False))
    known = sorted({k for r in rows for k, v in r.metrics.items() if _number(v)})
    # metric.NAME is NAME, as in 'mvc ls --where/--sort' (where it names a metric called tag,
    # state, version or created), unless a metric is called metric.NAME itself
    names = list(dict.fromkeys(
        n[len("metric."):] if n.startswith("metric.") and n not in known else n for n in metrics
    )) if metrics else known
    missing = [n for n in names if n not in known]
    if missing:
        have = f"its metrics: {', '.join(known)}" if known else "it has no metrics (mvc add --metric K=V)"
        raise NotFoundError(f"model {model!r} has no metric {', '.join(map(repr, missing))}; {have}")
    rows_of = {c.channel: c for c in registry.channels(model)}
    served = {ch: c.version for ch, c in rows_of.items()}
    canary = {ch: {"version": c.canary_version, "percent": c.canary_percent}
              for ch, c in rows_of.items() if c.canary_version is not None}
    return {
        "model": model,
        "versions": [r.version for r in rows],
        "metrics": {n: [{"version": r.version, "value": r.metrics[n]} for r in rows if _number(r.metrics.get(n))]
                    for n in names},
        "channels": {ch: served.get(ch) for ch in channel_names},
        "canaries": {ch: canary.get(ch) for ch in channel_names},
    }
