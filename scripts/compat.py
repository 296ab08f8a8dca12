"""The compatibility matrix: this provider's built wheel on the newest patch of each supported Airflow minor.

Builds the wheel once (``uv build --wheel``), then per Airflow version: a clean virtualenv (``uv venv``
with the machine's python3.11), ``apache-airflow==X`` + the pins below + the wheel (not editable), and
``scripts/compat_check.py`` run by that venv's interpreter from a folder outside the repository (so
nothing can be imported from the source tree). Prints a table; ``--json`` keeps the results.

Standard library only: runs with any Python 3.10+. Installs go through uv's cache (``UV_CACHE_DIR`` or
uv's default), so a second run downloads nothing.
"""

# ruff: noqa: S603 - runs uv and the interpreters it is given, with arguments it builds itself

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
# Wheel, venvs and logs; the tests point it elsewhere so a run of theirs never clobbers yours.
WORK = Path(os.environ.get("ORANGELOGIC_COMPAT_DIR") or REPO / ".compat").resolve()
# The newest patch of each supported minor, oldest first.
VERSIONS = ("3.0.6", "3.1.8", "3.2.2", "3.3.2")
CHECKS = ("provider", "imports", "form", "config", "exchange", "refresh", "search", "storage")

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
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--user", "uv"], check=True)
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


def check_version(uv: str, python: str, version: str, wheel: Path, wheel_version: str) -> dict:
    minor = ".".join(version.split(".")[:2])
    venv = WORK / "venvs" / version
    workdir = WORK / "runs" / version
    shutil.rmtree(workdir, ignore_errors=True)
    workdir.mkdir(parents=True)
    log = workdir / "log.txt"
    env = clean_env()
    started = time.monotonic()
    row: dict = {"minor": minor, "requested": version, "airflow": version, "checks": {}}
    requirements = [f"apache-airflow=={version}", *EXTRA_REQUIREMENTS.get(minor, ()), str(wheel)]
    installed = (
        run([uv, "venv", "--clear", "--quiet", "--python", python, str(venv)], log, env=env).returncode == 0
        and run(
            [
                uv,
                "pip",
                "install",
                "--quiet",
                "--compile-bytecode",
                "--python",
                str(venv / "bin" / "python"),
                *requirements,
            ],
            log,
            env=env,
        ).returncode
        == 0
    )
    row["checks"]["install"] = {
        "ok": installed,
        "seconds": round(time.monotonic() - started, 1),
        "detail": " + ".join(requirements[:-1]) + " + the wheel",
    }
    if installed:
        results = workdir / "results.json"
        command = [str(venv / "bin" / "python"), str(REPO / "scripts" / "compat_check.py")]
        command += ["--workdir", str(workdir), "--venv", str(venv), "--wheel-version", wheel_version]
        command += ["--json", str(results)]
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
    for name in CHECKS:
        row["checks"].setdefault(name, {"ok": False, "seconds": 0, "detail": f"not run; see {log}"})
    row["seconds"] = round(time.monotonic() - started, 1)
    row["ok"] = all(check["ok"] for check in row["checks"].values())
    row["log"] = str(log)
    return row


def table(rows: list[dict], python_version: str) -> str:
    head = ["minor", "Airflow", "install", *CHECKS, "wall time"]
    lines = [
        f"Python {python_version}; each row: a clean venv, that Airflow from PyPI + the built wheel.",
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


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("versions", nargs="*", default=list(VERSIONS), help=f"Airflow versions (default {VERSIONS})")
    parser.add_argument("--python", default="python3.11", help="interpreter for the venvs (default python3.11)")
    parser.add_argument("--json", help="also write the rows as JSON here")
    args = parser.parse_args()

    started = time.monotonic()
    WORK.mkdir(parents=True, exist_ok=True)
    uv = find_uv()
    python = machine_python(args.python)
    python_version = subprocess.run(
        [python, "-c", "import platform; print(platform.python_version())"], capture_output=True, text=True, check=True
    ).stdout.strip()
    build_log = WORK / "build.txt"
    build_log.write_text("")
    wheel = build_wheel(uv, build_log)
    wheel_version = wheel.name.split("-")[1]
    print(f"Built {wheel.name}; testing Airflow {', '.join(args.versions)} on Python {python_version}.", flush=True)
    rows = []
    for version in args.versions:
        print(f"Airflow {version}: installing into a clean venv and checking...", flush=True)
        row = check_version(uv, python, version, wheel, wheel_version)
        for name in ("install", *CHECKS):
            check = row["checks"][name]
            print(f"  {name:9} {'pass' if check['ok'] else 'FAIL'}  {check['seconds']:6.1f} s  "
                  f"{check['detail'].splitlines()[0][:140] if check['detail'] else ''}", flush=True)  # fmt: skip
        if not row["ok"]:
            print(f"  log: {row['log']}", flush=True)
        rows.append(row)
    print()
    print(table(rows, python_version))
    total = round(time.monotonic() - started)
    print(f"\nTotal wall time {total // 60} min {total % 60:02d} s (wheel built once).")
    if args.json:
        Path(args.json).write_text(json.dumps({"python": python_version, "rows": rows}, indent=1), encoding="utf-8")
    return 0 if all(row["ok"] for row in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
