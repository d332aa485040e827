"""``python -m images_async``: the command line."""

from ._cli import run

run()
