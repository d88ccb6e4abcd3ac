"""What the generator writes kernels with: the name tables, difficulty profiles, blocks of lines that
record their statement kinds, a kernel's parts, and the text of array elements and stores."""

from __future__ import annotations

from dataclasses import dataclass, field

from generation.generated import operations
from generation.generated.operations import annotation
from generation.source.warp_types import TYPES

FLOAT_INPUTS = ("a", "b", "c", "x", "y", "z", "u", "w")
VECTOR_INPUTS = ("p", "q", "r", "pos", "vel", "dirs")
MATRIX_INPUTS = ("m", "rot", "basis", "frame")
GEOMETRY_INPUTS = ("pose", "xform", "orient", "spin")
OUTPUT_NAMES = ("out", "result", "dst", "res")
PARAM_NAMES = ("alpha", "beta", "scale", "gain")
COUNT_NAMES = ("n", "count", "iters")
REDUCIBLE_NAMES = ("samples", "stack", "field", "grid")
HELPER_NAMES = ("blend", "shade", "combine", "score", "mix", "response", "warp_fn", "kernel_fn")
STRUCT_NAMES = ("Params", "Material", "Settings", "State", "Coeffs")
STRUCT_ARGS = ("params", "cfg", "props")
FIELD_NAMES = ("gain", "bias", "offset", "axis", "weight", "center", "stiffness", "damping", "steps", "frame")
CONSTANT_NAMES = ("GAIN", "EPS_SCALE", "BIAS", "DECAY", "SPREAD")
STATIC_BOUND_NAMES = ("STEPS", "ITERS", "TAPS")
TID_NAMES = ("i", "j", "k")
MASK_NAMES = ("active", "mask", "alive", "flags")
TOTAL_NAMES = ("total", "acc", "sums")
INPUT_NAMES = {"float": FLOAT_INPUTS, "int": FLOAT_INPUTS, "bool": ("mask", "flag", "keep"), "vector": VECTOR_INPUTS}
INPUT_NAMES |= {"matrix": MATRIX_INPUTS, "quat": GEOMETRY_INPUTS, "transform": GEOMETRY_INPUTS, "tile": FLOAT_INPUTS}

BLOCK_STATEMENTS = ("if", "for", "while")
ATOMIC_FUNCS = {"atomic_add": "adds", "atomic_sub": "subtracts", "atomic_min": "takes the minimum of"}
ATOMIC_FUNCS |= {"atomic_max": "takes the maximum of"}
INT_ATOMIC_FUNCS = {"atomic_and": "bitwise-ands", "atomic_or": "bitwise-ors", "atomic_xor": "bitwise-xors"}
INT_ATOMIC_FUNCS |= {"atomic_exch": "exchanges", "atomic_cas": "compares and swaps"}
ATOMIC_TYPES = ("float32", "float64", "int32", "uint32", "int64", "uint64")  # widths Warp's atomics take
COMPARISONS = [(">", "is greater than"), ("<", "is less than"), (">=", "is at least"), ("<=", "is at most")]
COMPARED_AS = ("float32", "float64", "int32")  # what a value of a type without comparisons (vectors) is brought to


@dataclass(frozen=True)
class Profile:
    """Size limits of one difficulty: expression depth, statements, block nesting (the odds of
    what a kernel holds are its category's ``Policy``)."""

    depth: tuple[int, int]  # expression depth, drawn in this range
    statements: tuple[int, int]  # statements before the final store
    nesting: int  # how deep blocks (if/for/while) may nest

    @property
    def compact(self) -> bool:
        """The smallest size a length cap steers to (``max_statements=0``): categories write only their
        core, on the shortest types and fewest reads, so every category has kernels under tight caps."""
        return self.statements[1] == 0


@dataclass(frozen=True)
class Bound:
    """A value a block bound to a local (``Block.values``)."""

    name: str
    line: int
    reads: frozenset[str]


@dataclass
class Block:
    """Statements in order, each line with the kind of statement it starts ("" for other lines),
    and the English phrases that describe them."""

    lines: list[str] = field(default_factory=list)
    kinds: list[str] = field(default_factory=list)
    phrases: list[str] = field(default_factory=list)
    # The values this block has bound to locals, by their code: the local, the line binding it and
    # the names the value reads. A later line of the block reads the local rather than compute the
    # value again, until a name it reads (or the local) is assigned again.
    values: dict[str, Bound] = field(default_factory=dict, repr=False, compare=False)

    def add(self, line: str, kind: str = "") -> None:
        self.lines.append(line)
        self.kinds.append(kind)

    def nest(self, body: Block) -> None:
        """``body`` one level in, below a header line just added."""
        self.lines.extend(indent(body.lines))
        self.kinds.extend(body.kinds)

    def forms(self) -> list[str]:
        """The block statements (if, for, while) at any depth, in source order."""
        return [kind for kind in self.kinds if kind in BLOCK_STATEMENTS]

    @property
    def has_block(self) -> bool:
        return bool(self.forms())


@dataclass
class KernelParts:
    """What a category policy builds; ``render`` turns it into a module."""

    name: str
    body: list[str]
    description: str
    inputs: list[tuple[str, str]] = field(default_factory=list)
    outputs: list[tuple[str, str]] = field(default_factory=list)
    module_blocks: list[str] = field(default_factory=list)  # constants, structs, wp.func helpers
    dims: int = 1


def indent(lines: list[str], levels: int = 1) -> list[str]:
    return ["    " * levels + line for line in lines]


def sentence(phrases: list[str], final: str) -> str:
    """Verb phrases in order: ``sets t0 to ...; then ...; and finally writes ...``."""
    if not phrases:
        return final
    return "; then ".join(phrases) + "; and finally " + final


def array_of(type_name: str, dims: int = 1, subscript: bool = False) -> str:
    """The array argument that holds ``type_name`` values for a ``dims``-D launch: one element per
    index, or for a tile one row (1D tile) or slice (2D tile) per index, one dimension more each.
    ``subscript``: Warp's current form, ``wp.array[float]``, else ``wp.array(dtype=float)``."""
    t = TYPES[type_name]
    ndim = dims + len(t.shape)
    dtype = annotation(t.scalar) if t.kind == "tile" else annotation(type_name)
    array = "wp.array" if ndim == 1 else f"wp.array{ndim}d"
    return f"{array}[{dtype}]" if subscript else f"{array}(dtype={dtype})"


def element(name: str, type_name: str, index: str) -> str:
    """Code that reads the ``type_name`` value of array ``name`` at ``index``: ``a[i]``, or the
    tile ``wp.tile_load(a[i], shape=8)``."""
    t = TYPES[type_name]
    if t.kind == "tile":
        return f"wp.tile_load({name}[{index}], shape={operations.tile_shape(t.shape)})"
    return f"{name}[{index}]"


def store(name: str, type_name: str, index: str, code: str, accumulate: bool = False) -> str:
    """The statement that writes ``code`` (a ``type_name`` value) to array ``name`` at ``index``."""
    if TYPES[type_name].kind == "tile":
        return f"wp.tile_{'atomic_add' if accumulate else 'store'}({name}[{index}], {code})"
    return f"{name}[{index}] {'+=' if accumulate else '='} {code}"


RANDOM_INIT = "state = wp.rand_init({seed}, {index})"  # the draws of the random group read this state


def typed(t: str, value: str) -> str:
    """``value`` (a literal or an int variable) converted to scalar type ``t``: ``float(it)``."""
    if TYPES[t].kind == "float" and value.isdigit():
        value += ".0"
    return f"{TYPES[t].annotation}({value})"
