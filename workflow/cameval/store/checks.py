"""The checks of what a reader returns: :class:`Expect` (the file against the model file, the spec
and the manifest it is about to be combined with) and :func:`check_coverage` (shards cover their rows
exactly once)."""

from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np

from cameval.errors import DataError
from cameval.store.writer import file_digest, manifest_digest, read_manifest_once, spec_digest


def check_coverage(parts, expected: int | None, what: str = "shards") -> None:
    """Raise :class:`DataError` unless the shards cover their rows exactly once.

    ``parts`` are ``(path, keys)`` in shard order, ``keys`` the rows of that shard (image ids, or
    ``(id, label)`` pairs where one image gives several rows); ``expected`` is the number of rows
    the config implies for these shards (None: not checked). A key in two shards names both
    files; a wrong total names the files and both counts. A shard left beside new ones by an
    earlier ``shard_size`` (``shard-0`` still holding 1,000 rows, ``shard-1`` 500 of them again)
    fails both ways.
    """
    seen: dict = {}
    paths = []
    for path, keys in parts:
        paths.append(str(path))
        again = [k for k in keys if k in seen]
        if again:
            more = f" (and {len(again) - 3} more)" if len(again) > 3 else ""
            raise DataError(
                f"{path}: rows {again[:3]}{more} are also in "
                f"{seen[again[0]]} (expected each row in exactly one of the {what}: a shard left from "
                "another shard_size or config? delete these shards and rerun)"
            )
        twice = len(keys) - len(set(keys))
        if twice:
            raise DataError(f"{path}: {twice} rows appear twice in this shard (expected each row once)")
        seen.update(dict.fromkeys(keys, str(path)))
    if expected is not None and len(seen) != expected:
        shown = paths if len(paths) <= 4 else [*paths[:2], "...", paths[-1]]
        raise DataError(
            f"{what} {shown}: {len(seen)} rows in {len(paths)} file(s), the config implies {expected} "
            "(expected exactly those rows: delete the shards and rerun)"
        )


def _short(digest) -> str:
    return f"{digest[:12]}…" if isinstance(digest, str) and digest else "none recorded"


@dataclass(frozen=True)
class Expect:
    """What a cached file is about to be combined with; :meth:`check` compares the file with it.

    ``weights``: the model file the maps must come from; ``spec``: the config's resolved spec of what
    computed them (a heatmap set: method, params, layer, targets, kind and your own method's source
    digest; an attack: its parameters); ``manifest``: the manifest whose rows the file covers (its
    ids must be the manifest's, each label the manifest's, and the rows unchanged since). None: not
    compared.
    """

    weights: str | os.PathLike | None = None
    spec: dict | None = None
    manifest: str | os.PathLike | None = None

    def check(self, path, attrs: dict, ids, labels=None) -> None:
        """Raise :class:`DataError` naming ``path`` and the mismatch unless the file's attributes
        ``attrs``, ``ids`` and ``labels`` agree with the model file, the spec and the manifest."""
        fix = "delete it and rerun its rule"
        if self.weights is not None:
            want, got = file_digest(self.weights), attrs.get("model_digest")
            if got != want:
                raise DataError(
                    f"{path}: computed with another model file (model_digest {_short(got)}; {self.weights} "
                    f"has {_short(want)}): a file copied from another model, or the model changed since; {fix}"
                )
        if self.spec is not None:
            want, got = spec_digest(self.spec), attrs.get("spec_digest")
            if got != want:
                stored = attrs.get("spec") if isinstance(attrs.get("spec"), dict) else {}
                keys = sorted(set(stored) | set(self.spec), key=str)
                diff = [
                    f"{k}: {stored.get(k)!r} in the file, {self.spec.get(k)!r} in the config"
                    for k in keys
                    if stored.get(k) != self.spec.get(k)
                ]
                raise DataError(
                    f"{path}: made by another spec ({'; '.join(diff) or 'spec_digest ' + _short(got)}): a file of "
                    f"another set, or the config or your method's source changed since; {fix}"
                )
        if self.manifest is not None:
            self._check_rows(path, attrs, list(ids), labels, fix)

    def _check_rows(self, path, attrs: dict, ids: list, labels, fix: str) -> None:
        from cameval.data.multilabel import is_multilabel  # noqa: PLC0415  # (as in writer._manifest)

        manifest = read_manifest_once(self.manifest)
        known = manifest.set_index("id")
        unknown = [i for i in dict.fromkeys(ids) if i not in known.index]
        if unknown:
            raise DataError(f"{path}: ids {unknown[:5]} are not in {self.manifest} (a file of another dataset?); {fix}")
        if labels is not None:
            labels = np.asarray(labels).reshape(len(ids), -1)[:, 0].tolist() if len(ids) else []
            multi = is_multilabel(manifest)
            for i, (image, label) in enumerate(zip(ids, labels, strict=True)):
                row = known.loc[image]
                allowed = sorted({int(b[0]) for b in row["boxes"]}) if multi else [int(row["label"])]
                if int(label) not in allowed:
                    says = f"boxed findings {allowed}" if multi else f"label {allowed[0]}"
                    raise DataError(
                        f"{path}: row {i} (id {image!r}) holds label {int(label)}, {self.manifest} says {says}; {fix}"
                    )
        want, got = manifest_digest(manifest, ids), attrs.get("manifest_digest")
        if got != want:
            raise DataError(
                f"{path}: covers rows of another manifest (manifest_digest {_short(got)}; the rows of its ids in "
                f"{self.manifest} give {_short(want)}): the manifest changed since (boxes, indices, labels); {fix}"
            )
