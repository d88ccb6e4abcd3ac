"""A build's plan: per split, the kernels to build (draw indices of the generator, or whole harvested
kernels), in groups that each carry their reserve of replacements, and the statistics so far."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

from generation.pipeline.stats import BuildStats
from generation.source.spec import KernelSpec

SPLITS = ("train", "validation", "test")
# How a plan turns into rows: 2 deals each split's reserve to its groups in turn, replaces every
# kind of skip and goes on past the reserve (1 dealt contiguous reserves for length caps only).
PLAN_VERSION = 2
MAX_SHARDS = 64
# Rows are built in groups of GROUP_SIZE, each replacing its own failed kernels (every skip: codegen,
# a length cap, a check) from its own share of the split's stream of further distinct kernels, so
# the rows never depend on how groups are dealt to shards, tasks or workers.
GROUP_SIZE = 16
BLOCK_SIZE = 64  # draws scanned together: the unit of parallel planning and of its files (a build scans
# on average half a block past what it needs: small blocks waste little)


@dataclass(frozen=True)
class PlannedKernel:
    index: int  # generated: its draw, (seed, category, index) regenerates it; real: its place in the harvest
    spec: KernelSpec
    features: tuple[str, ...] | None = None  # ``kernel_features`` of its source, when the scan read them


@dataclass(frozen=True)
class Further:
    """Where a group's replacements go on past its planned reserve: positions ``position``,
    ``position + step``, ... of its split's stream of distinct structures (``generated.SplitStream``)."""

    split: str
    position: int
    step: int


@dataclass(frozen=True)
class Group:
    """Rows built together: the planned items, the reserve that replaces those that fail, and
    where further replacements come from (None: nowhere, as for harvested kernels). ``source``
    says what the items are: draw indices ("generated") or ``PlannedKernel``s ("real")."""

    source: str
    items: list
    reserve: list
    further: Further | None = None


@dataclass
class Plan:
    """Per split, the items to build and the counts so far. ``source`` "generated": items are draw
    indices (a kernel is regenerated from its index when built); "real": whole ``PlannedKernel``s."""

    source: str
    items: dict[str, list] = field(default_factory=dict)
    stats: dict[str, BuildStats] = field(default_factory=dict)
    draws: int = 0  # draws scanned to fill the generated splits
    reserve: dict[str, list] = field(default_factory=dict)  # per split: replacements for kernels that fail

    def groups(self, split: str) -> list[Group]:
        """The split's rows in groups of ``GROUP_SIZE``. A generated split's selected kernels are one
        stream: its rows, then its reserve, dealt to the groups in turn (group ``k`` of ``G`` takes
        positions ``rows + k``, ``rows + k + G``, ...), and past the reserve the stream goes on."""
        items, reserve = self.items[split], self.reserve.get(split, [])
        starts = range(0, len(items), GROUP_SIZE)
        groups = len(starts)
        return [
            Group(
                self.source,
                items[start : start + GROUP_SIZE],
                reserve[k::groups],
                Further(split, len(items) + k + len(reserve[k::groups]) * groups, groups)
                if self.source == "generated"
                else None,
            )
            for k, start in enumerate(starts)
        ]

    def to_json(self) -> dict:
        """The plan as JSON: draw indices as numbers, harvested kernels whole."""

        def items(values: list) -> list:
            return (
                values if self.source == "generated" else [{"index": k.index, "spec": asdict(k.spec)} for k in values]
            )

        return {
            "source": self.source,
            "draws": self.draws,
            "items": {split: items(values) for split, values in self.items.items()},
            "reserve": {split: items(values) for split, values in self.reserve.items()},
            "stats": {split: stats.as_dict() for split, stats in self.stats.items()},
        }

    @classmethod
    def from_json(cls, data: dict, source: str) -> Plan:
        """The plan ``to_json`` wrote; ``source`` is the build's, for a plan.json written before plans
        recorded theirs (a build folder being resumed)."""
        source = data.get("source", source)

        def items(values: list) -> list:
            return (
                values
                if source == "generated"
                else [PlannedKernel(v["index"], KernelSpec(**v["spec"])) for v in values]
            )

        return cls(
            source,
            {split: items(values) for split, values in data["items"].items()},
            {split: BuildStats.from_dict(stats) for split, stats in data["stats"].items()},
            data["draws"],
            {split: items(values) for split, values in data.get("reserve", {}).items()},
        )


def shard(groups: list[Group], max_shards: int = MAX_SHARDS) -> list[list[Group]]:
    """Deal ``groups`` out to at most ``max_shards`` contiguous shards (a group to a shard at least)."""
    return split_evenly(groups, max(1, min(max_shards, len(groups))))


def split_evenly(items: list, count: int) -> list[list]:
    """``items`` cut into ``count`` contiguous runs whose lengths differ by at most one (some may be empty)."""
    size, extra = divmod(len(items), count)
    bounds = [k * size + min(k, extra) for k in range(count + 1)]
    return [items[bounds[k] : bounds[k + 1]] for k in range(count)]
