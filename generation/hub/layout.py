"""The Hub layout of a build folder, on any fsspec path (a local folder, ``hf://datasets/...``, ``s3://...``).

    PATH/README.md                                   the card; its YAML maps each config to its files
    PATH/CONFIG/SPLIT-XXXXX-of-YYYYY.parquet         the rows, one shard per build task
    PATH/.build/CONFIG/...                           the build's state: plan, statistics, task logs

``load_dataset(PATH, CONFIG)`` and ``push`` read it. A shard appears under its final name only
once it is complete, so a killed build never leaves a half-written shard where a reader looks.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import uuid
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import IO, Any

import pyarrow.parquet as pq
from datatrove.io import DataFolder, get_datafolder

from generation.pipeline.rows import FEATURES, batches, rows_table

STATE = ".build"
STATS_FILE = "build_stats.json"
WRITE_BATCH = 512  # rows per Parquet row group: the footer holds every group's metadata until the file closes


def folder(path: str | DataFolder) -> DataFolder:
    return path if isinstance(path, DataFolder) else get_datafolder(str(path))


def shard_name(config: str, split: str, index: int, count: int) -> str:
    return f"{config}/{split}-{index:05d}-of-{count:05d}.parquet"


def state(config: str, *parts: str) -> str:
    """A path in a config's build state (``.build/CONFIG/...``)."""
    return "/".join([STATE, config, *parts])


@contextmanager
def written_in_place(out: DataFolder, path: str, mode: str = "wb") -> Iterator[IO]:
    """A file to write ``path`` through: it is written under a hidden temporary name (no
    ``SPLIT-*`` pattern matches it) and moved into place only once complete. A killed writer's
    leftovers for the same path are removed first."""
    directory, _, name = path.rpartition("/")
    prefix = f"{directory}/.{name}" if directory else f".{name}"
    for stale in out.glob(f"{prefix}.*.tmp"):
        out.rm(stale)
    temporary = f"{prefix}.{uuid.uuid4().hex}.tmp"
    try:
        with out.open(temporary, mode) as file:
            yield file
        out.mv(temporary, path)
    finally:
        if out.exists(temporary):
            out.rm(temporary)


@contextmanager
def locked(out: DataFolder, path: str, wait: bool = True) -> Iterator[int | None]:
    """Hold an exclusive lock on ``path`` in ``out`` while the block runs; yield None when held, or,
    with ``wait`` False and another process holding it, that process's id. The lock is the
    operating system's (``flock``), so a killed holder leaves none behind. Folders that are not
    local (``s3://``, ``hf://``) are not locked: yields None."""
    if not out.is_local():
        yield None
        return
    lock_path = out.resolve_paths(path)
    os.makedirs(os.path.dirname(lock_path), exist_ok=True)
    with open(lock_path, "a+") as file:
        try:
            fcntl.flock(file, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
        except BlockingIOError:
            file.seek(0)
            yield int(file.read().strip() or 0)
            return
        file.seek(0)
        file.truncate()
        file.write(str(os.getpid()))
        file.flush()
        try:
            yield None
        finally:
            fcntl.flock(file, fcntl.LOCK_UN)


def write_json(out: DataFolder, path: str, data: Any) -> None:
    with written_in_place(out, path, "w") as file:
        json.dump(data, file, indent=1, sort_keys=True)


def read_json(out: DataFolder, path: str) -> Any:
    with out.open(path, "r") as file:
        return json.load(file)


def write_parquet(out: DataFolder, path: str, rows: Iterable[dict]) -> int:
    """Stream ``rows`` into a Parquet file with the dataset's schema; return the row count."""
    schema = FEATURES.arrow_schema
    written = 0
    with written_in_place(out, path) as file, pq.ParquetWriter(file, schema) as writer:
        for batch in batches(rows, WRITE_BATCH):
            writer.write_table(rows_table(batch))
            written += len(batch)
    return written


def shard_record(config: str, split: str, rank: int) -> str:
    """Where a built shard's record is kept: its file, rows, size and digest."""
    return state(config, "shards", f"{split}-{rank:05d}.json")


def file_digest(out: DataFolder, path: str) -> dict[str, Any]:
    """A file's size and SHA-256, read in 1 MiB pieces."""
    digest, size = hashlib.sha256(), 0
    with out.open(path, "rb") as file:
        while piece := file.read(2**20):
            digest.update(piece)
            size += len(piece)
    return {"bytes": size, "sha256": digest.hexdigest()}


def record_shard(out: DataFolder, config: str, split: str, rank: int, path: str, rows: int) -> None:
    write_json(out, shard_record(config, split, rank), {"file": path, "rows": rows, **file_digest(out, path)})


def shard_damage(out: DataFolder, record_path: str) -> str:
    """What is wrong with the shard a record describes ("" when it is as recorded)."""
    record = read_json(out, record_path)
    if not out.exists(record["file"]):
        return f"{record['file']} is missing"
    found = file_digest(out, record["file"])
    if found["bytes"] != record["bytes"]:
        return f"{record['file']} is damaged ({found['bytes']:,} bytes, {record['bytes']:,} written)"
    if found["sha256"] != record["sha256"]:
        return f"{record['file']} is damaged (its content is not what was written)"
    return ""


def damaged_shards(out: DataFolder, config: str) -> dict[str, str]:
    """Each recorded shard of ``config`` that is missing or not as it was written: its record's
    path and what is wrong. Shards built before records were kept are taken as they are."""
    records = out.list_files(state(config, "shards"), recursive=False, glob_pattern="*.json")
    found = {record: shard_damage(out, record) for record in sorted(records)}
    return {record: why for record, why in found.items() if why}


def config_files(out: DataFolder, config: str) -> dict[str, list[str]]:
    """Per split, the shard files of ``config`` in order."""
    files: dict[str, list[str]] = {}
    for path in out.list_files(config, recursive=False, glob_pattern="*.parquet"):
        name = path.rsplit("/", 1)[-1]
        if not name.startswith("."):
            files.setdefault(name.split("-", 1)[0], []).append(path)
    return files


def read_rows(out: DataFolder, paths: list[str], columns: list[str] | None = None) -> Iterator[dict]:
    """The rows of ``paths`` one batch at a time (never a whole config in memory)."""
    for path in paths:
        with out.open(path, "rb") as file:
            for batch in pq.ParquetFile(file).iter_batches(batch_size=256, columns=columns):
                yield from batch.to_pylist()


def built_configs(out: DataFolder) -> list[str]:
    """The configs whose build finished in ``out`` (their statistics are written last)."""
    return sorted(path.split("/")[1] for path in out.list_files(STATE, glob_pattern=f"*/{STATS_FILE}"))
