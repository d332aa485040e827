"""Developer tasks: ``nox`` runs the default sessions; ``nox -l`` lists them all.

Sessions run on the interpreter nox itself runs on, so a machine with one Python never
fails for a missing one. Developer tools come from the dependency groups of
``pyproject.toml``; the package itself is installed with the extras a user would pick.
"""

from __future__ import annotations

from pathlib import Path

import nox
from packaging.requirements import Requirement

nox.needs_version = ">=2025.2.9"  # nox.project.dependency_groups
nox.options.default_venv_backend = "venv"
nox.options.error_on_missing_interpreters = False
nox.options.reuse_existing_virtualenvs = True
nox.options.sessions = [
    "tests",
    "tests_lowest",
    "lint",
    "typecheck",
    "verifytypes",
    "sync_check",
    "docs",
]

PYPROJECT = nox.project.load_toml("pyproject.toml")


def install_project(session: nox.Session, *groups: str, extras: str = "") -> None:
    """Install the project in editable mode, with ``extras``, and the named dependency groups."""
    target = f".[{extras}]" if extras else "."
    session.install("-e", target, *nox.project.dependency_groups(PYPROJECT, *groups))


#: Extras whose floors ``tests_lowest`` holds too: the test suite runs the emulator.
LOWEST_EXTRAS = ("emulator",)


def lowest_constraints() -> list[str]:
    """``name==floor`` for every runtime dependency and every dependency of
    :data:`LOWEST_EXTRAS`, from its ``>=`` bound in pyproject.toml."""
    project = PYPROJECT["project"]
    requirements = list(project["dependencies"])
    for extra in LOWEST_EXTRAS:
        requirements += project["optional-dependencies"][extra]
    pins = []
    for text in requirements:
        requirement = Requirement(text)
        floors = [spec.version for spec in requirement.specifier if spec.operator == ">="]
        if len(floors) != 1:
            raise ValueError(f"{text!r} needs exactly one '>=' floor for tests_lowest")
        pins.append(f"{requirement.name}=={floors[0]}")
    return pins


#: Run with ``name==version`` arguments; fails naming every package installed at another version.
_CHECK_INSTALLED = """
import importlib.metadata, sys
pins = dict(arg.split("==") for arg in sys.argv[1:])
wrong = {n: importlib.metadata.version(n) for n, v in pins.items()
         if importlib.metadata.version(n) != v}
sys.exit(f"not the lowest versions: {wrong}" if wrong else 0)
"""


@nox.session
def tests(session: nox.Session) -> None:
    """Run the test suite against loopback servers (pass pytest options after --)."""
    install_project(session, "test", extras="testing")
    session.run("pytest", *session.posargs)


@nox.session
def tests_lowest(session: nox.Session) -> None:
    """Run the test suite with the lowest allowed versions of the dependencies and Pillow."""
    pins = lowest_constraints()
    constraints = Path(session.create_tmp()) / "lowest-constraints.txt"
    constraints.write_text("\n".join(pins) + "\n", encoding="utf-8")
    session.install("-c", str(constraints), "-e", ".[testing]")
    session.install("-c", str(constraints), *nox.project.dependency_groups(PYPROJECT, "test"))
    # Prove the floors are what got installed, not something a test tool pulled in.
    session.run("python", "-c", _CHECK_INSTALLED, *pins, silent=True)
    session.run("pytest", "-p", "no:cacheprovider", *session.posargs)


@nox.session
def lint(session: nox.Session) -> None:
    """Check style and formatting with ruff."""
    session.install(*nox.project.dependency_groups(PYPROJECT, "lint"))
    session.run("ruff", "check", ".")
    session.run("ruff", "format", "--check", ".")


@nox.session
def typecheck(session: nox.Session) -> None:
    """Type-check the package, tests and scripts with mypy --strict."""
    install_project(session, "typecheck", extras="testing,cli")
    session.run("mypy")


@nox.session
def verifytypes(session: nox.Session) -> None:
    """Require pyright --verifytypes to find the whole public API typed (100%)."""
    # An installed copy, not an editable one: pyright judges the package as users get it,
    # and from outside the checkout, so the sources beside it are not read instead.
    # With the emulator extra: images_async.testing and the demo are typed against Pillow.
    session.install(".[emulator]", *nox.project.dependency_groups(PYPROJECT, "verifytypes"))
    with session.chdir(session.create_tmp()):
        session.run("pyright", "--verifytypes", "images_async", "--ignoreexternal")


@nox.session
def docs(session: nox.Session) -> None:
    """Build the HTML docs and run their examples, with warnings as errors."""
    # The examples start the emulator, which needs the testing extra (Pillow among it).
    install_project(session, "docs", extras="testing")
    session.run("sphinx-build", "-W", "-n", "-q", "-b", "html", "docs", "docs/_build/html")
    session.run("sphinx-build", "-W", "-n", "-q", "-b", "doctest", "docs", "docs/_build/doctest")


@nox.session
def sync_check(session: nox.Session) -> None:
    """Fail when a generated sync facade or view differs from what the generator writes."""
    session.install(*nox.project.dependency_groups(PYPROJECT, "lint"))  # the pinned ruff
    session.run("python", "scripts/generate_sync.py", "--check")


@nox.session
def sync(session: nox.Session) -> None:
    """Regenerate the sync facades (Images, AzureImages) and the views from the async clients."""
    session.install(*nox.project.dependency_groups(PYPROJECT, "lint"))  # the pinned ruff
    session.run("python", "scripts/generate_sync.py")


@nox.session
def vendor_openapi(session: nox.Session) -> None:
    """Re-cut tests/openapi/images-subset.yaml from a full spec: nox -s vendor_openapi -- PATH."""
    if not session.posargs:
        session.error("give the full OpenAPI spec's path after --")
    session.install("pyyaml>=6")
    session.run("python", "scripts/vendor_openapi.py", *session.posargs)


@nox.session
def bench(session: nox.Session) -> None:
    """Benchmark CPU and memory against bare aiohttp and openai (run.py options after --)."""
    install_project(session, "bench")
    session.run("python", "benchmarks/run.py", *session.posargs)
