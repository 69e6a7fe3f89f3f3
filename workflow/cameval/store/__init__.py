"""Every cached array: heatmap shards, one-pixel attack shards, FGSM attacks, class maps.

Every cached file proves what made it, and every reader checks it (:class:`Expect`): the file
records, as attributes, the SHA-256 of the model file (``model_digest``), of the manifest rows it
covers (``manifest_digest``, :func:`manifest_digest`) and of the resolved spec of what computed it
(``spec_digest`` of ``spec``: a heatmap set's method, params, layer, targets, kind and, for your own
method, the digest of its module's source); every dataset carries HDF5's ``fletcher32`` checksum,
so a flipped bit anywhere (ids, labels, targets, scores, not only the compressed maps) is a
:class:`DataError` naming the file. A reader given an :class:`Expect` compares the file with the
model file, the manifest and the config's spec it is about to be combined with, and checks the
file's ids and labels against the manifest; every float it returns is finite.

The package, by concern: :mod:`.writer` (the one writer, :func:`write_cache`, and what a file
records of what made it, :func:`provenance`); :mod:`.checks` (:class:`Expect`, :func:`check_coverage`);
:mod:`.shards` (heatmap shards: :func:`write_shard`, :class:`Shard`, :func:`check_shards`,
:func:`read_shards`); :mod:`.caches` (the readers of one-pixel attack shards, FGSM attacks and class
maps). The names the rest of cameval uses are exported here.
"""

from cameval.store.caches import ATTACK_ARRAYS, read_attacks, read_class_maps, read_fgsm
from cameval.store.checks import Expect, check_coverage
from cameval.store.shards import Shard, check_shards, read_shards, write_shard
from cameval.store.writer import provenance, write_cache

__all__ = [
    "ATTACK_ARRAYS",
    "Expect",
    "Shard",
    "check_coverage",
    "check_shards",
    "provenance",
    "read_attacks",
    "read_class_maps",
    "read_fgsm",
    "read_shards",
    "write_cache",
    "write_shard",
]
