"""Developer tasks: ``nox`` runs the default sessions; ``nox -l`` lists them all.

Sessions run on the interpreter nox itself runs on, so a machine with one Python never
fails for a missing one.
"""

from __future__ import annotations

import nox

nox.options.default_venv_backend = "venv"
nox.options.error_on_missing_interpreters = False
nox.options.reuse_existing_virtualenvs = True
nox.options.sessions = ["tests", "lint", "typecheck", "sync_check", "docs"]


def install_project(session: nox.Session, *extras: str) -> None:
    """Install the project in editable mode with the given optional dependency groups."""
    target = f".[{','.join(extras)}]" if extras else "."
    session.install("-e", target)


@nox.session
def tests(session: nox.Session) -> None:
    """Run the test suite against loopback servers (pass pytest options after --)."""
    install_project(session, "test")
    session.run("pytest", *session.posargs)


@nox.session
def lint(session: nox.Session) -> None:
    """Check style and formatting with ruff."""
    session.install("ruff>=0.6")
    session.run("ruff", "check", ".")
    session.run("ruff", "format", "--check", ".")


@nox.session
def typecheck(session: nox.Session) -> None:
    """Type-check the package, tests and scripts with mypy --strict."""
    install_project(session, "test", "typecheck")
    session.run("mypy")


@nox.session
def docs(session: nox.Session) -> None:
    """Build the HTML docs and run their examples, with warnings as errors."""
    install_project(session, "docs")
    session.run("sphinx-build", "-W", "-n", "-q", "-b", "html", "docs", "docs/_build/html")
    session.run("sphinx-build", "-W", "-n", "-q", "-b", "doctest", "docs", "docs/_build/doctest")


@nox.session
def sync_check(session: nox.Session) -> None:
    """Fail when the generated sync facade differs from what the generator writes."""
    session.run("python", "scripts/generate_sync.py", "--check", external=True)


@nox.session
def sync(session: nox.Session) -> None:
    """Regenerate the sync facade (images_async/_images.py) from AsyncImages."""
    session.run("python", "scripts/generate_sync.py", external=True)


@nox.session
def bench(session: nox.Session) -> None:
    """Compare client CPU and memory with bare aiohttp and openai (run.py options after --)."""
    install_project(session, "bench")
    session.run("python", "benchmarks/run.py", *session.posargs)
