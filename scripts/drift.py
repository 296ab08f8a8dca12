"""Drift: what today's PyPI would break, found on purpose (never part of the test command).

For each Airflow version, against its committed resolution (``constraints/``):

1. **Fresh resolution.** ``apache-airflow==X`` + the pins of ``scripts/compat.py`` + the wheel, resolved from
   today's PyPI, all checks of the matrix. When it fails, the packages newer than the committed resolution
   are bisected (half of them at today's version, the rest at the committed one) down to the one that
   breaks; then that package's releases in between are bisected down to the first that breaks. The fix is
   ``package<first breaking release``.
2. **Pin audit** (``--no-audit`` skips it). Each version pin of ``EXTRA_REQUIREMENTS`` is lifted in turn:
   still needed (and from which release it breaks), held anyway by another pin, or no longer needed.

Runs install a clean venv each (a few seconds from uv's cache) and stop at the first failing check, so a
version with nothing to report costs one matrix row. Standard library only, like ``scripts/compat.py``.
"""

# ruff: noqa: S310, S603 - reads PyPI's simple index over https; runs uv with arguments it builds itself

from __future__ import annotations

import argparse
import importlib.util
import json
import re
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path

HERE = Path(__file__).resolve().parent


def _load_matrix():
    spec = importlib.util.spec_from_file_location("compat_matrix", HERE / "compat.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


compat = _load_matrix()
PIN = re.compile(r"^(?P<name>[A-Za-z0-9_.-]+)\s*<\s*(?P<bound>[0-9][^,;\s]*)$")


def plural(count: int, noun: str) -> str:
    return f"{count} {noun}{'' if count == 1 else 's'}"


def release_key(version: str) -> tuple:
    """Sort key for plain release versions (``1.2.10`` after ``1.2.9``); None-safe for odd ones."""
    return tuple(int(part) if part.isdigit() else 0 for part in re.split(r"[.+-]", version))


def same_release(a: str, b: str) -> bool:
    """``51`` and ``51.0.0`` name the same release."""

    def trimmed(version: str) -> tuple:
        key = list(release_key(version))
        while key and key[-1] == 0:
            key.pop()
        return tuple(key)

    return trimmed(a) == trimmed(b)


def is_final(version: str) -> bool:
    return re.fullmatch(r"\d+(\.\d+)*(\.post\d+)?", version) is not None


def releases(package: str) -> list[str]:
    """Final releases of ``package`` on PyPI, oldest first (PEP 691 JSON of the simple index)."""
    request = urllib.request.Request(
        f"https://pypi.org/simple/{compat.canonical(package)}/",
        headers={"Accept": "application/vnd.pypi.simple.v1+json"},
    )
    with urllib.request.urlopen(request, timeout=60) as response:
        versions = json.load(response)["versions"]
    return sorted((v for v in versions if is_final(v)), key=release_key)


class Drift:
    def __init__(self, matrix, version: str) -> None:
        self.matrix = matrix
        self.version = version
        self.lock_path = compat.constraints_file(version, matrix.python_version)
        self.locked = compat.read_pins(self.lock_path) if self.lock_path.exists() else {}
        self.runs = 0
        self.constraints_dir = compat.WORK / "drift" / version
        self.constraints_dir.mkdir(parents=True, exist_ok=True)

    def attempt(self, what: str, pins: dict[str, str], requirements: list[str] | None = None) -> dict:
        """One clean venv: the version's requirements (or ``requirements``) with ``pins`` as constraints."""
        self.runs += 1
        label = f"drift-{self.version}-{self.runs}"
        constraints = self.constraints_dir / f"{label}.txt"
        constraints.write_text("".join(f"{name}=={v}\n" for name, v in sorted(pins.items())), encoding="utf-8")
        row = self.matrix.check(
            self.version,
            mode="fresh",
            requirements=requirements,
            constraints=constraints if pins else None,
            label=label,
            stop_early=True,
        )
        failure = compat.first_failure(row)
        outcome = "pass" if failure is None else f"{failure[0]} FAIL: {failure[1]}"
        print(f"    run {self.runs}: {what}: {outcome}", flush=True)
        return row

    def resolve(self, requirements: list[str]) -> dict[str, str]:
        """What today's PyPI resolves for ``requirements`` + the wheel, without installing it."""
        wanted = self.constraints_dir / "resolve.in"
        wanted.write_text("\n".join([*requirements, str(self.matrix.wheel)]) + "\n", encoding="utf-8")
        output = subprocess.run(
            [
                *(self.matrix.uv, "pip", "compile", "--quiet", "--refresh", "--no-header", "--no-annotate"),
                *("--python", self.matrix.python, str(wanted)),
            ],
            capture_output=True,
            text=True,
            check=False,
            env=compat.clean_env(),
        ).stdout
        return compat.read_pins_text(output)

    def breaks(self, row: dict) -> bool | None:
        """True when a check failed, False when all passed, None when the mix did not even resolve."""
        failure = compat.first_failure(row)
        if failure is None:
            return False
        return None if failure[0] == "install" else True

    def culprit_among(self, fresh: dict[str, str], changed: list[str]) -> str | None:
        """Bisect ``changed`` (all of them at today's version breaks) down to the package that breaks."""
        candidates = list(changed)
        while len(candidates) > 1:
            half, rest = candidates[: len(candidates) // 2], candidates[len(candidates) // 2 :]
            verdict = self.breaks(
                self.attempt(f"{len(half)} of {len(candidates)} at today's version", self.mix(fresh, half))
            )
            if verdict is None:  # that mix does not resolve: try the other half
                verdict = self.breaks(self.attempt(f"the other {len(rest)} at today's version", self.mix(fresh, rest)))
                if verdict is None:
                    print(f"    inconclusive: neither half resolves on its own ({', '.join(candidates)})")
                    return None
                candidates = rest if verdict else half
            else:
                candidates = half if verdict else rest
        return candidates[0] if candidates else None

    def mix(self, fresh: dict[str, str], at_today: list[str]) -> dict[str, str]:
        """Today's resolution with every changed package outside ``at_today`` back at its committed version."""
        pins = dict(fresh)
        for name in pins.keys() & self.locked.keys():
            if name not in at_today:
                pins[name] = self.locked[name]
        return pins

    def first_breaking(
        self, package: str, good: str, bad: str, try_version: Callable[[str], bool | None]
    ) -> tuple[str, str]:
        """(newest working, first breaking) among the releases of ``package`` in (good, bad]."""
        between = [v for v in releases(package) if release_key(good) < release_key(v) <= release_key(bad)]
        if not between or between[-1] != bad:
            between.append(bad)
        low, high = -1, len(between) - 1  # between[low] works (good), between[high] breaks
        while high - low > 1:
            middle = (low + high) // 2
            verdict = try_version(between[middle])
            if verdict is None:
                break  # that release does not resolve here: report the interval found so far
            if verdict:
                high = middle
            else:
                low = middle
        return (between[low] if low >= 0 else good), between[high]

    def fresh_resolution(self) -> dict:
        print(f"  fresh resolution ({' '.join(compat.requirements_for(self.version))} + the wheel):", flush=True)
        row = self.attempt("today's PyPI", {})
        report: dict = {"ok": row["ok"], "failure": compat.first_failure(row), "log": row["log"]}
        fresh = row.get("resolution", {})
        changes = compat.differences(self.locked, fresh) if self.locked else []
        report["changes"] = changes
        print(f"    {plural(len(changes), 'package')} differ from {self.lock_path.name}"
              f"{': ' + ', '.join(changes) if changes else ''}", flush=True)  # fmt: skip
        if row["ok"] or not fresh or not self.locked:
            return report
        changed = sorted(name for name in fresh.keys() & self.locked.keys() if fresh[name] != self.locked[name])
        culprit = self.culprit_among(fresh, changed) if changed else None
        if culprit is None:
            return report
        good, bad = self.first_breaking(
            culprit,
            self.locked[culprit],
            fresh[culprit],
            lambda v: self.breaks(self.attempt(f"{culprit}=={v}", {**self.mix(fresh, []), culprit: v})),
        )
        report.update(package=culprit, newest_working=good, first_breaking=bad, pin=f"{culprit}<{bad}")
        return report

    def audit(self, pin: str) -> dict:
        match = PIN.match(pin)
        name, bound = compat.canonical(match["name"]), match["bound"]
        lifted = [r for r in compat.requirements_for(self.version) if r != pin]
        print(f"  pin {pin}, lifted:", flush=True)
        resolved = self.resolve(lifted).get(name)
        report: dict = {"pin": pin, "resolved": resolved}
        if resolved is not None and release_key(resolved) < release_key(bound):
            report["verdict"] = f"held by the other pins ({name} {resolved} resolves without it)"
            print(f"    => {report['verdict']}", flush=True)
            return report
        row = self.attempt(f"without {pin}", {}, requirements=lifted)
        resolved = row.get("resolution", {}).get(name, resolved)
        report["resolved"] = resolved
        if row["ok"]:
            report["verdict"] = f"no longer needed: {name} {resolved} passes every check; drop the pin"
        elif self.breaks(row) is None or resolved is None:
            report["verdict"] = f"inconclusive: the resolution without it fails to install (see {row['log']})"
        else:
            failure = compat.first_failure(row)
            below = [v for v in releases(name) if release_key(v) < release_key(bound)]
            good = self.locked.get(name) or (below[-1] if below else bound)
            newest_working, first_bad = self.first_breaking(
                name,
                good,
                resolved,
                lambda v: self.breaks(self.attempt(f"{name}=={v}", {name: v}, requirements=lifted)),
            )
            fix = f"{name}<{first_bad}"
            report.update(failure=failure, newest_working=newest_working, first_breaking=first_bad, fix=fix)
            exact = same_release(first_bad, bound)
            report["verdict"] = (
                f"still needed: {name} {first_bad} breaks {failure[0]} ({failure[1][:140]}); "
                f"newest working {newest_working}; "
                + ("the pin is exact" if exact else f"`{fix}` would do (the pin says `{pin}`)")
            )
        print(f"    => {report['verdict']}", flush=True)
        return report


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("versions", nargs="*", default=list(compat.VERSIONS), help="Airflow versions (default all)")
    parser.add_argument("--no-audit", action="store_true", help="skip lifting each pin of scripts/compat.py")
    parser.add_argument("--python", default="python3.11")
    parser.add_argument("--json", help="also write the findings as JSON here")
    args = parser.parse_args()

    started = time.monotonic()
    matrix = compat.Matrix(args.python)
    findings = []
    for version in args.versions:
        drift = Drift(matrix, version)
        print(f"Airflow {version} (committed resolution: {drift.lock_path.relative_to(compat.REPO)}"
              f"{'' if drift.locked else ', missing'}):", flush=True)  # fmt: skip
        finding = {"version": version, "fresh": drift.fresh_resolution(), "pins": []}
        if not args.no_audit:
            pins = [p for p in compat.EXTRA_REQUIREMENTS.get(compat.minor_of(version), ()) if PIN.match(p)]
            finding["pins"] = [drift.audit(pin) for pin in pins]
        finding["runs"] = drift.runs
        findings.append(finding)

    print("\nSummary (today's PyPI against constraints/):\n")
    print("| Airflow | what | finding |")
    print("|---|---|---|")
    for finding in findings:
        fresh = finding["fresh"]
        if fresh["ok"]:
            text = f"passes; {plural(len(fresh['changes']), 'package')} changed since the committed resolution"
        elif "pin" in fresh:
            text = (f"{fresh['package']} {fresh['first_breaking']} breaks {fresh['failure'][0]}; newest working "
                    f"{fresh['newest_working']}; add `{fresh['pin']}` to EXTRA_REQUIREMENTS")  # fmt: skip
        else:
            name, detail = fresh["failure"]
            text = f"{name} fails ({detail[:100]}); no single package found, see {fresh['log']}"
        print(f"| {finding['version']} | fresh resolution | {text} |")
        for pin in finding["pins"]:
            print(f"| {finding['version']} | `{pin['pin']}` | {pin['verdict']} |")
    total = round(time.monotonic() - started)
    print(f"\n{sum(f['runs'] for f in findings)} venvs in {total // 60} min {total % 60:02d} s.")
    if args.json:
        Path(args.json).write_text(json.dumps(findings, indent=1), encoding="utf-8")
    broken = [f["version"] for f in findings if not f["fresh"]["ok"]]
    if broken:
        print(f"Today's PyPI breaks {' '.join(broken)}: add the pin(s) above, then ./scripts/compat.sh --lock.")
    return 1 if broken else 0


if __name__ == "__main__":
    sys.exit(main())
