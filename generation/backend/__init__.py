"""Everything that touches Warp: importing sources, code generation, PTX, compile and run checks.

This package is the only code allowed to use Warp's private API (``warp._src``); ``ruff check``
enforces it (``flake8-tidy-imports`` banned-api in ``pyproject.toml``). Importing this package
alone does not import Warp; its modules do.
"""

DEFAULT_CUDA_ARCH = 80  # the architecture CUDA code is generated for (only tile operations read it)
