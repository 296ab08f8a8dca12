"""The compatibility matrix: this provider's built wheel on the newest patch of each supported Airflow minor.

Builds the wheel once (``uv build --wheel``), then per Airflow version: a clean virtualenv (``uv venv``
with the machine's python3.11), ``apache-airflow==X`` + the pins below + the wheel (not editable), and
``scripts/compat_check.py`` run by that venv's interpreter from a folder outside the repository (so
nothing can be imported from the source tree). Prints a table; ``--json`` keeps the results.

Where the packages come from:

- by default, the committed resolution of that version (``constraints/airflow-X-pythonY.txt``, every
  package pinned): the install fails unless the venv then holds exactly those versions, so the matrix
  resolves the same way every day;
- ``--fresh``: today's PyPI, with only the pins below (what ``scripts/drift.py`` starts from);
- ``--lock``: as ``--fresh``, and when every version passes, each venv's resolution is written to its
  constraints file (the one command that regenerates them).

Standard library only: runs with any Python 3.10+. Installs go through uv's cache (``UV_CACHE_DIR`` or
uv's default), so a second run downloads nothing.
"""

# ruff: noqa: S603 - runs uv and the interpreters it is given, with arguments it builds itself

from __future__ import annotations

import argparse
import datetime
import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
# Wheel, venvs and logs; the tests point it elsewhere so a run of theirs never clobbers yours.
WORK = Path(os.environ.get("ORANGELOGIC_COMPAT_DIR") or REPO / ".compat").resolve()
# The committed resolutions, one per Airflow version and Python minor (written by --lock).
CONSTRAINTS = REPO / "constraints"
PACKAGE = "airflow-provider-orangelogic"
# The uv that bootstrap.sh installs when the machine has none (one place for both).
UV_VERSION_FILE = REPO / "scripts" / "uv-version.txt"
# The newest patch of each supported minor, oldest first.
VERSIONS = ("3.0.6", "3.1.8", "3.2.2", "3.3.2")
CHECKS = (
    "provider", "imports", "form", "config", "exchange", "refresh", "search", "storage", "incremental", "upload",
    "webhook",
)  # fmt: skip

# Installed beside Airflow, by minor. PyPI is used without Airflow's constraint files, so a dependency
# released after an Airflow minor can break it; each pin names the breakage (docs/compatibility.md).
EXTRA_REQUIREMENTS: dict[str, tuple[str, ...]] = {
    "3.0": (
        # Airflow 3.0.6 allows any fastapi >= 0.115; with today's (0.165, starlette 1.x) its in-process
        # Execution API answers 422 to the task-start call, so no task runs. Airflow 3.1 caps fastapi
        # below 0.118 itself: the same cap here. cadwyn 6+ needs a newer fastapi than that.
        "fastapi<0.118",
        "cadwyn<6",
        # Airflow 3.0's UI calls the hooks' form methods only when wtforms imports (for every provider;
        # deployments get it with the FAB provider). Without it the form has no extra fields.
        "wtforms",
        # Airflow 3.0.6 allows any universal-pathlib >= 0.2.2; 0.3 changed how subclasses declare their
        # protocols, and ObjectStoragePath("file:///...") fails ("detected protocol file which is incompatible
        # with ObjectStoragePath"), so the search-to-storage operator cannot write. Airflow 3.1 caps it below
        # 0.3 itself; 3.2+ requires 0.3.8+ and works with it.
        "universal-pathlib<0.3",
        # cryptography 51 made MultiFernet a Rust class that takes no new attributes; Airflow 3.0 and 3.1
        # set `is_encrypted` on it (airflow/models/crypto.py), so storing any Connection or Variable with a
        # Fernet key fails (AttributeError). 3.2.0 wraps it instead and runs with 51. Found by
        # scripts/drift.py; 50.0.2 is the newest that works.
        "cryptography<51",
    ),
    "3.1": (
        "cryptography<51",  # as for 3.0: 3.1.8's crypto.py is the same
    ),
    "3.2": (
        # With today's fastapi (0.165) Airflow 3.2.2's Execution API fails to build its task-state models
        # (pydantic: "needs a discriminator field"), so no task runs. Capped at the line uv.lock has for 3.3
        # (fastapi 0.136, cadwyn 7), which 3.2.2 runs with.
        "fastapi<0.137",
        "cadwyn<8",
        # With svcs 26 every Execution API call of 3.2.2 fails ("'State' object has no attribute
        # 'svcs_registry'"): no task runs. 3.3 sets its services registry up another way and runs with 26.
        "svcs<26",
    ),
}


def find_uv() -> str:
    found = os.environ.get("UV") or shutil.which("uv") or shutil.which("uv", path=str(Path.home() / ".local/bin"))
    if found:
        return found
    pinned = "uv==" + UV_VERSION_FILE.read_text().strip()
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--user", pinned], check=True)
    return str(Path.home() / ".local/bin/uv")


def machine_python(name: str) -> str:
    """The real interpreter behind ``name`` (resolving a pyenv shim)."""
    return subprocess.run(
        [name, "-c", "import sys; print(sys.executable)"], capture_output=True, text=True, check=True
    ).stdout.strip()


def run(command: list[str], log: Path, **kwargs: object) -> subprocess.CompletedProcess[str]:
    with log.open("a", encoding="utf-8") as out:
        out.write(f"\n$ {' '.join(command)}\n")
        out.flush()
        return subprocess.run(command, stdout=out, stderr=subprocess.STDOUT, text=True, check=False, **kwargs)


def build_wheel(uv: str, log: Path) -> Path:
    dist = WORK / "dist"
    shutil.rmtree(dist, ignore_errors=True)
    result = run([uv, "build", "--wheel", "--out-dir", str(dist), str(REPO)], log)
    wheels = sorted(dist.glob("*.whl"))
    if result.returncode != 0 or len(wheels) != 1:
        raise SystemExit(f"building the wheel failed; see {log}")
    return wheels[0]


def clean_env() -> dict[str, str]:
    """This process's environment without anything pointing at the repo's venv, sources or an Airflow."""
    drop = ("VIRTUAL_ENV", "PYTHONPATH", "PYTHONHOME", "AIRFLOW_HOME", "UV_PROJECT_ENVIRONMENT")
    return {k: v for k, v in os.environ.items() if k not in drop and not k.startswith("AIRFLOW__")}


def minor_of(version: str) -> str:
    return ".".join(version.split(".")[:2])


def requirements_for(version: str) -> list[str]:
    """What the matrix asks for beside the wheel: that Airflow and the pins its minor needs today."""
    return [f"apache-airflow=={version}", *EXTRA_REQUIREMENTS.get(minor_of(version), ())]


def constraints_file(version: str, python_version: str) -> Path:
    return CONSTRAINTS / f"airflow-{version}-python{minor_of(python_version)}.txt"


def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def read_pins(path: Path) -> dict[str, str]:
    """``name==version`` lines of a constraints file (comments and blank lines skipped)."""
    return read_pins_text(path.read_text(encoding="utf-8"))


def read_pins_text(text: str) -> dict[str, str]:
    pins = {}
    for line in text.splitlines():
        line = line.split("#", 1)[0].strip()
        if "==" in line:
            name, version = line.split("==", 1)
            pins[canonical(name)] = version.strip()
    return pins


def freeze(uv: str, venv: Path, env: dict[str, str]) -> dict[str, str]:
    """Every distribution in the venv but this provider's wheel, name to version."""
    output = subprocess.run(
        [uv, "pip", "freeze", "--python", str(venv / "bin" / "python")],
        capture_output=True,
        text=True,
        check=True,
        env=env,
    ).stdout
    return {name: version for name, version in read_pins_text(output).items() if name != PACKAGE}


def differences(expected: dict[str, str], found: dict[str, str]) -> list[str]:
    """What ``found`` has that ``expected`` does not: ``+new==1``, ``-gone==1``, ``name 1 -> 2``."""
    changes = [f"{name} {expected[name]} -> {found[name]}" for name in sorted(expected.keys() & found.keys())
               if expected[name] != found[name]]  # fmt: skip
    changes += [f"+{name}=={found[name]}" for name in sorted(found.keys() - expected.keys())]
    changes += [f"-{name}=={expected[name]}" for name in sorted(expected.keys() - found.keys())]
    return changes


def write_constraints(path: Path, version: str, python_version: str, pins: dict[str, str]) -> None:
    today = datetime.date.today().isoformat()
    header = [
        f"# Airflow {version} on Python {minor_of(python_version)}: every package of the resolution the",
        f"# compatibility matrix proved green on {today} (all checks of scripts/compat_check.py passed).",
        "# Written by `./scripts/compat.sh --lock`; never edit by hand. The matrix installs from it with",
        "# `uv pip install -c` and fails unless the venv holds exactly these versions.",
        f"# Asked for: {' '.join(requirements_for(version))} + {PACKAGE}",
        "# A pip user of this Airflow version can install with it too:",
        f"#   pip install apache-airflow=={version} {PACKAGE} -c {path.name}",
    ]
    body = [f"{name}=={pins[name]}" for name in sorted(pins)]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(header + body) + "\n", encoding="utf-8")


def check_version(
    uv: str,
    python: str,
    version: str,
    wheel: Path,
    wheel_version: str,
    *,
    python_version: str,
    mode: str = "locked",
    requirements: list[str] | None = None,
    constraints: Path | None = None,
    label: str | None = None,
    stop_early: bool = False,
) -> dict:
    """Install ``version`` + the wheel into a clean venv and run every check there.

    mode ``locked`` installs from the version's committed constraints file (or ``constraints``) and
    requires the venv to match it exactly; ``fresh`` resolves ``requirements`` (default: the pins above)
    from today's PyPI, with ``constraints`` applied when given. The row keeps the resolution it ran on.
    """
    label = label or version
    venv = WORK / "venvs" / label
    workdir = WORK / "runs" / label
    shutil.rmtree(workdir, ignore_errors=True)
    workdir.mkdir(parents=True)
    log = workdir / "log.txt"
    env = clean_env()
    started = time.monotonic()
    row: dict = {"minor": minor_of(version), "requested": version, "airflow": version, "mode": mode, "checks": {}}
    requirements = requirements if requirements is not None else requirements_for(version)
    install = [uv, "pip", "install", "--quiet", "--compile-bytecode", "--python", str(venv / "bin" / "python")]
    expected: dict[str, str] | None = None
    detail = " + ".join(requirements) + " + the wheel"
    if mode == "locked":
        constraints = constraints or constraints_file(version, python_version)
        if not constraints.exists():
            row["checks"]["install"] = {
                "ok": False,
                "seconds": 0,
                "detail": f"no committed resolution {constraints.relative_to(REPO)}; "
                f"write it with ./scripts/compat.sh --lock {version}",
            }
            return finish_row(row, started, log)
        expected = read_pins(constraints)
        detail += f" from {constraints.relative_to(REPO)}"
    else:
        install.append("--refresh")  # today's index, not uv's cached answer from an earlier day
    if constraints is not None:
        install += ["--constraint", str(constraints)]
    installed = (
        run([uv, "venv", "--clear", "--quiet", "--python", python, str(venv)], log, env=env).returncode == 0
        and run([*install, *requirements, str(wheel)], log, env=env).returncode == 0
    )
    if installed:
        row["resolution"] = freeze(uv, venv, env)
        if expected is not None and (drifted := differences(expected, row["resolution"])):
            installed = False
            detail = f"the venv differs from {constraints.name}: {', '.join(drifted)[:600]}"
    elif mode == "locked":
        detail = f"installing from {constraints.name} failed; see {log}"
    row["checks"]["install"] = {"ok": installed, "seconds": round(time.monotonic() - started, 1), "detail": detail}
    if installed:
        results = workdir / "results.json"
        command = [str(venv / "bin" / "python"), str(REPO / "scripts" / "compat_check.py")]
        command += ["--workdir", str(workdir), "--venv", str(venv), "--wheel-version", wheel_version]
        command += ["--json", str(results)] + (["--stop-early"] if stop_early else [])
        run(
            command,
            log,
            env=env,
            cwd=str(workdir),  # never the repo: `python -m airflow` puts the working directory on sys.path
        )
        if results.exists():
            found = json.loads(results.read_text())
            row["airflow"] = found["airflow"]
            row["checks"].update(found["checks"])
    return finish_row(row, started, log)


def finish_row(row: dict, started: float, log: Path) -> dict:
    for name in CHECKS:
        row["checks"].setdefault(name, {"ok": False, "seconds": 0, "detail": f"not run; see {log}"})
    row["seconds"] = round(time.monotonic() - started, 1)
    row["ok"] = all(check["ok"] for check in row["checks"].values())
    row["log"] = str(log)
    return row


# A traceback's last line: "SomeError: message". Our own wrappers (the sandbox's command error, the check's
# assertion) only say which command failed; the cause is the exception Airflow or a dependency raised.
EXCEPTION_LINE = re.compile(r"^\s*(?:[A-Za-z_][\w.]*\.)?[A-Za-z_]\w*(?:Error|Exception)\b(?::.*)?$")
WRAPPERS = ("AirflowCommandError", "CheckFailed")


def root_cause(text: str) -> str | None:
    """The last exception line in ``text`` that is not one of our wrappers; None if there is none."""
    causes = [line.strip() for line in text.splitlines() if EXCEPTION_LINE.match(line)]
    causes = [line for line in causes if not any(wrapper in line.split(":", 1)[0] for wrapper in WRAPPERS)]
    return causes[-1] if causes else None


def first_failure(row: dict) -> tuple[str, str] | None:
    """The first check that failed and why, in one line (the root exception of its log); None if all passed."""
    for name, check in row["checks"].items():  # in the order they ran, install first
        if not check["ok"]:
            detail = check["detail"] or ""
            log = Path(row.get("log", ""))
            cause = root_cause(detail) or (root_cause(log.read_text(errors="replace")) if log.is_file() else None)
            lines = [line.strip() for line in detail.splitlines() if line.strip()]
            return name, (cause or (lines[0] if lines else ""))[:200]
    return None


SOURCES = {
    "locked": "that Airflow from its committed resolution (constraints/)",
    "fresh": "that Airflow from today's PyPI with the pins of scripts/compat.py",
}


def table(rows: list[dict], python_version: str, mode: str) -> str:
    head = ["minor", "Airflow", "install", *CHECKS, "wall time"]
    lines = [
        f"Python {python_version}; each row: a clean venv, {SOURCES[mode]} + the built wheel.",
        "",
        "| " + " | ".join(head) + " |",
        "|" + "|".join("---" for _ in head) + "|",
    ]
    for row in rows:
        cells = [row["minor"], row["airflow"]]
        cells += ["pass" if row["checks"][name]["ok"] else "FAIL" for name in ("install", *CHECKS)]
        minutes, seconds = divmod(round(row["seconds"]), 60)
        cells.append(f"{minutes} min {seconds:02d} s")
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


class Matrix:
    """What every run shares: uv, the interpreter and the wheel built once."""

    def __init__(self, python_name: str = "python3.11") -> None:
        WORK.mkdir(parents=True, exist_ok=True)
        self.uv = find_uv()
        self.python = machine_python(python_name)
        self.python_version = subprocess.run(
            [self.python, "-c", "import platform; print(platform.python_version())"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        build_log = WORK / "build.txt"
        build_log.write_text("")
        self.wheel = build_wheel(self.uv, build_log)  # build deps pinned by pyproject's build-constraint-dependencies
        self.wheel_version = self.wheel.name.split("-")[1]

    def check(self, version: str, **options: object) -> dict:
        return check_version(
            self.uv, self.python, version, self.wheel, self.wheel_version, python_version=self.python_version, **options
        )

    def print_row(self, row: dict) -> None:
        for name in ("install", *CHECKS):
            check = row["checks"][name]
            print(f"  {name:9} {'pass' if check['ok'] else 'FAIL'}  {check['seconds']:6.1f} s  "
                  f"{check['detail'].splitlines()[0][:140] if check['detail'] else ''}", flush=True)  # fmt: skip
        if not row["ok"]:
            print(f"  log: {row['log']}", flush=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("versions", nargs="*", default=list(VERSIONS), help=f"Airflow versions (default {VERSIONS})")
    parser.add_argument("--python", default="python3.11", help="interpreter for the venvs (default python3.11)")
    parser.add_argument("--json", help="also write the rows as JSON here")
    source = parser.add_mutually_exclusive_group()
    source.add_argument("--fresh", action="store_true", help="resolve from today's PyPI instead of constraints/")
    source.add_argument(
        "--lock", action="store_true", help="resolve fresh and, when every version passes, write constraints/"
    )
    args = parser.parse_args()

    started = time.monotonic()
    matrix = Matrix(args.python)
    mode = "fresh" if args.fresh or args.lock else "locked"
    print(f"Built {matrix.wheel.name}; testing Airflow {', '.join(args.versions)} on Python "
          f"{matrix.python_version}, {SOURCES[mode]}.", flush=True)  # fmt: skip
    rows = []
    for version in args.versions:
        print(f"Airflow {version}: installing into a clean venv and checking...", flush=True)
        row = matrix.check(version, mode=mode)
        matrix.print_row(row)
        rows.append(row)
    print()
    print(table(rows, matrix.python_version, mode))
    total = round(time.monotonic() - started)
    print(f"\nTotal wall time {total // 60} min {total % 60:02d} s (wheel built once).")
    if args.json:
        report = {"python": matrix.python_version, "mode": mode, "rows": rows}
        Path(args.json).write_text(json.dumps(report, indent=1), encoding="utf-8")
    passed = all(row["ok"] for row in rows)
    if args.lock:
        if not passed:
            failed = " ".join(row["requested"] for row in rows if not row["ok"])
            print(f"\nconstraints/ not written: {failed} failed. ./scripts/drift.sh {failed} names the package "
                  "that broke and the pin to add to EXTRA_REQUIREMENTS in scripts/compat.py.")  # fmt: skip
            return 1
        for row in rows:
            path = constraints_file(row["requested"], matrix.python_version)
            old = read_pins(path) if path.exists() else {}
            write_constraints(path, row["requested"], matrix.python_version, row["resolution"])
            changes = ", ".join(differences(old, row["resolution"])) if old else "a new file"
            print(f"wrote {path.relative_to(REPO)}: {len(row['resolution'])} packages; "
                  f"{changes or 'no change'}")  # fmt: skip
    return 0 if passed else 1


if __name__ == "__main__":
    sys.exit(main())
