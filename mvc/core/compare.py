"""How version B differs from version A (SPEC §3 "Comparison"): metrics with direction,
params, artifact files, tensors, similarity, performance delta, importance, recommendation.

The comparison works on two ``Side`` snapshots and a function that lists the tensors of a
stored file, so it needs neither the registry nor the object store layout.
"""

from __future__ import annotations

import io
import json
import math
import os
import sys
from dataclasses import dataclass, field
from fnmatch import fnmatchcase
from typing import Any, Callable, Mapping

from mvc.core.config import SCHEMA
from mvc.core.metrics import same_value
from mvc.core.tensors import TensorInfo, UnreadableTensorFile, diff_tensors, tensor_format

RECOMMEND_A = "RECOMMEND_A"
RECOMMEND_B = "RECOMMEND_B"
SIMILAR = "SIMILAR_PERFORMANCE"
INSUFFICIENT = "INSUFFICIENT_DATA"


@dataclass(frozen=True)
class Side:
    """What a comparison needs to know about one version."""

    ref: str
    metrics: Mapping[str, Any]
    params: Mapping[str, Any]
    files: Mapping[str, str]  # artifact path -> digest (``symlink:TARGET`` for a link)
    data: tuple[str, ...] = ()  # digests of --data inputs
    code: tuple[str, ...] = ()  # digests of --code inputs


def _default(key: str) -> Any:
    return SCHEMA[key].default


@dataclass(frozen=True)
class Settings:
    """The comparison's config (``compare.*``); the defaults are the schema's (core/config.py)."""

    primary_metric: str = _default("compare.primary_metric")
    lower_is_better: tuple[str, ...] = _default("compare.lower_is_better")
    threshold: float = _default("compare.threshold")
    accuracy_metric: str = _default("compare.accuracy_metric")
    latency_metric: str = _default("compare.latency_metric")
    weights: dict[str, float] = field(default_factory=lambda: {
        "accuracy": _default("compare.weights.accuracy"), "latency": _default("compare.weights.latency")})

    def lower_better(self, metric: str) -> bool:
        name = metric.lower()
        return any(fnmatchcase(name, p.lower()) for p in self.lower_is_better)


def settings_from(value: Callable[[str], Any]) -> Settings:
    """Settings from config: ``value(key)`` is the checked value in effect (Config.value)."""
    return Settings(
        primary_metric=value("compare.primary_metric"),
        lower_is_better=tuple(value("compare.lower_is_better")),
        threshold=float(value("compare.threshold")),
        accuracy_metric=value("compare.accuracy_metric"),
        latency_metric=value("compare.latency_metric"),
        weights={"accuracy": float(value("compare.weights.accuracy")),
                 "latency": float(value("compare.weights.latency"))},
    )


def _sub(b: float, a: float) -> float:
    """b - a without the noise of binary floats (0.95 - 0.9 is 0.04999999999999993): rounded
    to the 15 significant digits that the larger operand carries."""
    d = b - a
    if isinstance(d, int) and abs(d) > sys.float_info.max:  # two whole numbers near ±1.8e308
        return math.inf if d > 0 else -math.inf
    scale = max(abs(a), abs(b))
    if d == 0 or scale == 0 or not math.isfinite(d):
        return d
    return round(d, 14 - math.floor(math.log10(scale)))


def _finite(x: float) -> float | None:
    """A difference as JSON can carry it (SPEC §10): B - A of two values near ±1.7e308 does not
    fit a float, and Infinity is not JSON, so such a difference is null."""
    return x if math.isfinite(x) else None


def _clean(x: float) -> float:
    return float(f"{x:.12g}")


def _is_number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def compare_metrics(a: Mapping[str, Any], b: Mapping[str, Any], s: Settings) -> dict[str, Any]:
    both = {}
    for name in sorted(a.keys() & b.keys()):
        va, vb = a[name], b[name]
        if not (_is_number(va) and _is_number(vb)):
            continue
        diff = _finite(_sub(vb, va))
        improved = vb < va if s.lower_better(name) else vb > va
        both[name] = {"a": va, "b": vb, "diff": diff, "improved": improved}
    return {
        "metrics": both,
        "metrics_only_a": {k: a[k] for k in sorted(a.keys() - b.keys())},
        "metrics_only_b": {k: b[k] for k in sorted(b.keys() - a.keys())},
    }


def compare_params(a: Mapping[str, Any], b: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "added": {k: b[k] for k in sorted(b.keys() - a.keys())},
        "removed": {k: a[k] for k in sorted(a.keys() - b.keys())},
        "changed": {k: {"a": a[k], "b": b[k]} for k in sorted(a.keys() & b.keys()) if not same_value(a[k], b[k])},
    }


def compare_files(a: Mapping[str, str], b: Mapping[str, str]) -> dict[str, Any]:
    common = a.keys() & b.keys()
    return {
        "added": sorted(b.keys() - a.keys()),
        "removed": sorted(a.keys() - b.keys()),
        "changed": sorted(p for p in common if a[p] != b[p]),
        "unchanged": sum(1 for p in common if a[p] == b[p]),
    }


def _oriented(metric: str, a: float, b: float, s: Settings) -> float:
    """b - a, signed so that positive means B is better."""
    return _sub(a, b) if s.lower_better(metric) else _sub(b, a)


def performance(a: Mapping[str, Any], b: Mapping[str, Any], s: Settings) -> tuple[float | None, str]:
    """(performance_delta, recommendation) from the primary metric."""
    p = s.primary_metric
    if not (_is_number(a.get(p)) and _is_number(b.get(p))):
        return None, INSUFFICIENT
    va, vb = float(a[p]), float(b[p])
    delta = _oriented(p, va, vb, s)
    # The margin is a share of |A|, so a zero or negative A never turns the comparison round;
    # with A = 0 any strict improvement counts.
    margin = s.threshold * abs(va)
    if delta > margin:
        rec = RECOMMEND_B
    elif delta < -margin:
        rec = RECOMMEND_A
    else:
        rec = SIMILAR
    return _finite(delta), rec


def importance(a: Mapping[str, Any], b: Mapping[str, Any], s: Settings) -> float | None:
    def delta(name: str) -> float | None:
        if _is_number(a.get(name)) and _is_number(b.get(name)):
            return _sub(float(b[name]), float(a[name]))
        return None

    d_acc, d_lat = delta(s.accuracy_metric), delta(s.latency_metric)
    if d_acc is None and d_lat is None:
        return None
    score = s.weights["accuracy"] * (d_acc or 0.0) - s.weights["latency"] * ((d_lat or 0.0) / 1000)
    return _finite(_clean(score))


def _canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def characteristics(side: Side, tensors: Mapping[str, Mapping[str, TensorInfo]],
                    renamed: Mapping[str, str] | None = None) -> set[str]:
    """The characteristic set of SPEC §3: params, files, tensors, data and code; a path in
    ``renamed`` is counted under its new name (a single-file artifact renamed between the two
    versions is still the same model file, as the tensor comparison pairs it)."""
    renamed = renamed or {}
    out = {f"param:{k}={_canonical(v)}" for k, v in side.params.items()}
    out |= {f"file:{renamed.get(p, p)}={d}" for p, d in side.files.items()}
    for path, listing in tensors.items():
        out |= {f"tensor:{renamed.get(path, path)}:{t.name}={t.digest}" for t in listing.values()}
    out |= {f"data:{d}" for d in side.data}
    out |= {f"code:{d}" for d in side.code}
    return out


def jaccard(x: set[str], y: set[str]) -> float:
    union = x | y
    return 1.0 if not union else len(x & y) / len(union)


TensorReader = Callable[[str, str], dict[str, TensorInfo]]  # (digest, format) -> tensors
# a stored file's digest -> the (digest, size) of the objects that hold its bytes (a recipe's
# chunks, or the file's own object); None when the store does not have them
ChunkReader = Callable[[str], "list[tuple[str, int]] | None"]


def compare_storage(a: Side, b: Side, chunks: ChunkReader) -> dict[str, int] | None:
    """What the two versions' files share in the store: the distinct chunks (objects) each
    side's files are made of, those in both, and their bytes; None when a side's file is not
    in the local store (not pulled), so what it is made of is unknown."""
    sides = []
    for side in (a, b):
        held: dict[str, int] = {}
        for digest in sorted(set(side.files.values())):
            if not digest.startswith("sha256:"):
                continue  # a symlink holds no bytes
            found = chunks(digest)
            if found is None:
                return None
            held.update(found)
        sides.append(held)
    ca, cb = sides
    shared = ca.keys() & cb.keys()
    return {"shared_bytes": sum(ca[d] for d in shared), "a_bytes": sum(ca.values()),
            "b_bytes": sum(cb.values()), "shared_chunks": len(shared),
            "chunks_a": len(ca), "chunks_b": len(cb)}


def _tensor_files(side: Side) -> dict[str, tuple[str, str]]:
    out = {}
    for path, digest in side.files.items():
        fmt = tensor_format(path)
        if fmt is not None and digest.startswith("sha256:"):
            out[path] = (digest, fmt)
    return out


def compare(a: Side, b: Side, s: Settings, read: TensorReader,
            chunks: ChunkReader | None = None) -> dict[str, Any]:
    """The whole comparison, as the plain dict that ``mvc diff --json`` prints (``storage``
    only when ``chunks`` tells what the stored files are made of)."""
    cache: dict[tuple[str, str], dict[str, TensorInfo] | str] = {}

    def listing(digest: str, fmt: str) -> dict[str, TensorInfo] | str:
        """The file's tensors, or the reason it cannot be read."""
        key = (digest, fmt)
        if key not in cache:
            try:
                cache[key] = read(digest, fmt)
            except UnreadableTensorFile as exc:
                cache[key] = str(exc)
        return cache[key]

    files_a, files_b = _tensor_files(a), _tensor_files(b)
    lists_a = {p: listing(*v) for p, v in files_a.items()}
    lists_b = {p: listing(*v) for p, v in files_b.items()}

    pairs = [(p, p) for p in sorted(files_a.keys() & files_b.keys())]
    # a single-file artifact renamed between versions is still the same model file
    if len(a.files) == len(b.files) == 1 and a.files.keys() != b.files.keys():
        renamed = {next(iter(a.files)): next(iter(b.files))}
        if len(files_a) == len(files_b) == 1 and next(iter(files_a.values()))[1] == next(iter(files_b.values()))[1]:
            pairs = [(next(iter(files_a)), next(iter(files_b)))]
    else:
        renamed = {}
    tensors: dict[str, Any] = {}
    for pa, pb in pairs:
        la, lb = lists_a[pa], lists_b[pb]
        errors = {side: msg for side, msg in (("a", la), ("b", lb)) if isinstance(msg, str)}
        if errors:
            entry = {"added": [], "removed": [], "reshaped": {}, "changed": [], "unchanged": 0,
                     "a_bytes": 0, "b_bytes": 0, "shared_bytes": 0}
        else:
            entry = diff_tensors(la, lb)
        key = pb if pa == pb else f"{pa} -> {pb}"
        tensors[key] = {"format": files_b[pb][1], **entry, "errors": errors}
    unreadable = [
        {"side": side, "path": p, "error": v}
        for side, lists in (("a", lists_a), ("b", lists_b))
        for p, v in sorted(lists.items()) if isinstance(v, str)
    ]

    readable_a = {p: v for p, v in lists_a.items() if not isinstance(v, str)}
    readable_b = {p: v for p, v in lists_b.items() if not isinstance(v, str)}
    delta, rec = performance(a.metrics, b.metrics, s)
    return {
        "a": a.ref,
        "b": b.ref,
        **compare_metrics(a.metrics, b.metrics, s),
        "params": compare_params(a.params, b.params),
        "artifacts": compare_files(a.files, b.files),
        "tensors": tensors,
        "unreadable": unreadable,
        "similarity": jaccard(characteristics(a, readable_a, renamed), characteristics(b, readable_b)),
        "performance_delta": delta,
        "importance": importance(a.metrics, b.metrics, s),
        "recommendation": rec,
        "primary_metric": s.primary_metric,
        "storage": None if chunks is None else compare_storage(a, b, chunks),
    }


# -- reading the two sides from a repository -----------------------------------------------

def side_of(ref: str, row, registry, store) -> Side:
    """A ``Side`` for a registry version row: its files from the manifest, its inputs; a metric
    that is not a finite number (edited by hand) is the registry's damage (exit 3)."""
    from mvc.core import artifacts, registry_values

    registry_values.metrics(row)

    if row.kind == "directory":
        files = {
            e.path: f"symlink:{e.target}" if e.is_link else e.digest
            for e in artifacts.load_entries(store, row.digest)
        }
    else:
        files = {row.path_name: row.digest}
    inputs = registry.lineage_inputs(row.id)
    return Side(
        ref=ref, metrics=row.metrics, params=row.params, files=files,
        data=tuple(i.digest for i in inputs if i.kind == "data" and i.digest),
        code=tuple(i.digest for i in inputs if i.kind == "code" and i.digest),
    )


def store_reader(store) -> TensorReader:
    """Read tensor listings straight from stored objects (headers and byte ranges). A file
    whose object is not in the local store (a clone not pulled yet) is unreadable, listed as
    such beside the rest of the comparison; a missing or corrupt chunk of a recipe that is
    here, or a whole object (of at most 4 MiB: what is stored whole now) whose bytes do not
    match its name, is the store's damage (IntegrityError, exit 3), as for checkout, not
    tensors that changed."""
    from mvc.core.chunking import CHUNKED_FROM
    from mvc.core.tensors import read_tensors

    def read(digest: str, fmt: str) -> dict[str, TensorInfo]:
        try:
            recipe = store.recipe(digest)
            if recipe is None:
                size = store.path(digest).stat().st_size  # FileNotFoundError: not pulled
                if size <= CHUNKED_FROM:  # read once, verified
                    return read_tensors(io.BytesIO(store.read_bytes(digest)), fmt)
                # a whole object stored before chunking may be gigabytes: read from its header only
                return read_tensors(store.path(digest), fmt)
            with io.BufferedReader(_RecipeFile(store, recipe), 1 << 20) as f:
                return read_tensors(f, fmt)
        except FileNotFoundError:
            raise UnreadableTensorFile(f"{digest} is not in the local store: 'mvc pull' fetches it "
                                       "('mvc fsck' if it should be here)") from None

    return read


class _RecipeFile(io.RawIOBase):
    """A chunked file read in place (SPEC §5.1): reads and seeks go to the chunk that holds
    the bytes, so a tensor header and the tensors' byte ranges are read without putting the
    file together. Each chunk read is checked against its name first (a corrupt one is exit 3,
    as for checkout, not a tensor file that looks damaged) and kept while reads stay in it."""

    def __init__(self, store, recipe):
        self.store, self.recipe, self.pos = store, recipe, 0
        self.starts = [c.offset for c in recipe.chunks]
        self.held: tuple[str, memoryview] | None = None  # the chunk read last: (digest, bytes)

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self.pos

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self.pos, io.SEEK_END: self.recipe.size}[whence]
        self.pos = max(0, base + offset)
        return self.pos

    def _chunk_bytes(self, chunk) -> memoryview:
        from mvc.core.chunked import CUT_SHORT, chunk_corrupt, open_recipe_chunk
        from mvc.core.packs import chunk_matches

        if self.held is not None and self.held[0] == chunk.digest:
            return self.held[1]
        self.held = None
        fd, at = open_recipe_chunk(self.store, chunk, self.recipe.digest)
        try:
            data = os.pread(fd, chunk.size, at)
        finally:
            os.close(fd)
        if len(data) != chunk.size:
            raise chunk_corrupt(chunk, self.recipe.digest, CUT_SHORT)
        if not chunk_matches(chunk.digest, data):
            raise chunk_corrupt(chunk, self.recipe.digest, "its bytes do not match its digest")
        self.held = (chunk.digest, memoryview(data))
        return self.held[1]

    def readinto(self, buffer) -> int:
        import bisect

        if self.pos >= self.recipe.size:
            return 0
        chunk = self.recipe.chunks[bisect.bisect_right(self.starts, self.pos) - 1]
        data = self._chunk_bytes(chunk)
        start = self.pos - chunk.offset
        want = min(len(buffer), chunk.size - start)
        buffer[:want] = data[start:start + want]
        self.pos += want
        return want

    def close(self) -> None:
        self.held = None
        super().close()


def store_chunks(store) -> ChunkReader:
    """What a stored file is made of: its recipe's chunks, or its own object as one chunk."""

    def chunks(digest: str) -> list[tuple[str, int]] | None:
        found = store.chunks_of(digest)
        return None if found is None else [(c.digest, c.size) for c in found]

    return chunks
