"""A build's plan: per split, the kernels to build (draw indices of the generator, or whole harvested
kernels), in groups that each carry their reserve of replacements, and the statistics so far."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

from generation.pipeline.stats import BuildStats
from generation.source.spec import KernelSpec

SPLITS = ("train", "validation", "test")
MAX_SHARDS = 64
# A build with a length cap replaces each kernel over it by a further distinct draw. Planning keeps
# a reserve of RESERVE_PER_GROUP draws for each GROUP_SIZE rows, and a group replaces from its own
# reserve, so the rows never depend on how groups are dealt to shards, tasks or workers. Scanning a
# draw costs about 0.4 ms, building one about 10 ms: a deep reserve is cheap. It keeps a build exact
# unless about half its kernels are over the cap; past that the shortfall is counted and logged.
GROUP_SIZE = 16
RESERVE_PER_GROUP = 32


@dataclass(frozen=True)
class PlannedKernel:
    index: int  # generated: its draw, (seed, category, index) regenerates it; real: its place in the harvest
    spec: KernelSpec


@dataclass(frozen=True)
class Group:
    """Rows built together: the planned items, and the reserve that replaces those over a cap.
    ``source`` says what the items are: draw indices ("generated") or ``PlannedKernel``s ("real")."""

    source: str
    items: list
    reserve: list


@dataclass
class Plan:
    """Per split, the items to build and the counts so far. ``source`` "generated": items are draw
    indices (a kernel is regenerated from its index when built); "real": whole ``PlannedKernel``s."""

    source: str
    items: dict[str, list] = field(default_factory=dict)
    stats: dict[str, BuildStats] = field(default_factory=dict)
    draws: int = 0  # draws scanned to fill the generated splits
    reserve: dict[str, list] = field(default_factory=dict)  # per split: replacements for kernels over a cap

    def groups(self, split: str) -> list[Group]:
        """The split's rows in groups of ``GROUP_SIZE``, each with its share of the reserve."""
        items, reserve = self.items[split], self.reserve.get(split, [])
        starts = range(0, len(items), GROUP_SIZE)
        return [
            Group(
                self.source,
                items[start : start + GROUP_SIZE],
                reserve[k * RESERVE_PER_GROUP : (k + 1) * RESERVE_PER_GROUP],
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
