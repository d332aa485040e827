"""The ``images-async`` command line (also ``python -m images_async``).

Commands: ``generate``, ``edit``, ``variations`` and ``batch`` (a resumable JSON Lines
fan-out, live or offloaded to the Batch API) against the API or any ``--base-url``;
``serve`` to run the offline emulator; and ``demo``, which needs neither network nor key.
The API commands also reach Azure OpenAI (``--azure-endpoint``, ``--api-version``,
``--azure-deployment``), through ``--proxy``, trusting ``--ca-bundle``.

Modules: ``app`` (exit statuses and errors), ``parser`` (arguments), ``parameters`` (the
API parameters each command takes), ``connection`` (the client a command calls the API
with), ``commands`` (what each command does), ``batch``, ``offload`` (``batch --offload``),
``output`` (every file written), ``progress`` and ``demo``.
"""

from .app import main, run

__all__ = ["main", "run"]
