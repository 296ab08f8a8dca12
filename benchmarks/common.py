"""What the benchmark driver and its subprocess workers share: the stand-in process, stores, helpers."""

from __future__ import annotations

import hashlib
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Callable, Mapping, Sequence
from importlib import metadata
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode

from airflow_provider_orangelogic.oauth.stores import FileTokenStore
from airflow_provider_orangelogic.oauth.tokens import TokenPair
from airflow_provider_orangelogic.testing.process import StandInProcess as _StandIn

REPO = Path(__file__).resolve().parents[1]
OUT_DIR = REPO / ".benchmarks-out"

# A throwaway credential that only the local stand-in started by the driver knows.
CLIENT_ID = "bench-client"
CLIENT_SECRET = "bench-secret-7Hq2xV"
REDIRECT_URI = "http://127.0.0.1:8080/orangelogic/callback"
TOKEN_ENDPOINT = "/webapi/security/oauth2/token_48I_v1"
SEARCH_ENDPOINT = "/API/search/v4.0/search"
# The smallest useful Search call: one item per page, so the figures measure per-call overhead.
SEARCH_PARAMS: dict[str, str | int] = {"query": "MediaType:Image", "format": "json", "countperpage": 1}
HTTP_TIMEOUT = 30.0


# -- statistics ---------------------------------------------------------------------------------


def median(values: Sequence[float]) -> float:
    return statistics.median(values) if values else float("nan")


def paired_ratios(numerators: Sequence[float], denominators: Sequence[float]) -> list[float]:
    """Per-trial ratios: both figures of a pair come from the same trial, so slow drift cancels out."""
    return [n / d for n, d in zip(numerators, denominators, strict=True) if d]


# -- the stand-in as a separate process ---------------------------------------------------------


class StandInProcess(_StandIn):
    """The package's stand-in process, with the benchmarks' throwaway credentials."""

    def __init__(
        self, *, catalogue_size: int = 250, max_runtime: float = 1800.0, lenient: bool = False, **pacing: Any
    ) -> None:
        """``pacing``: ``search_latency``, ``search_max_in_flight``, ``search_retry_after``."""
        super().__init__(
            client_id=CLIENT_ID, client_secret=CLIENT_SECRET, redirect_uri=REDIRECT_URI,
            catalogue_size=catalogue_size, max_runtime=max_runtime, lenient=lenient, **pacing,
        )  # fmt: skip


# -- token stores and clients -------------------------------------------------------------------


# The file store the tests use too; one implementation, in airflow_provider_orangelogic.oauth.stores.
FileStore = FileTokenStore


def orange_logic_refresh_body(url: str, headers: dict[str, str], body: str) -> tuple[str, dict[str, str], str]:
    """requests-oauthlib compliance hook: Orange Logic wants the refresh token in ``code``.

    oauthlib builds an RFC 6749 body (``grant_type=refresh_token&refresh_token=...``); Orange Logic
    reads the refresh token from the field named ``code`` instead, so rename it.
    """
    params = dict(parse_qsl(body, keep_blank_values=True))
    params["code"] = params.pop("refresh_token")
    return url, headers, urlencode(params)


def oauthlib_session(base_url: str, pair: TokenPair, token_updater: Callable[[dict[str, Any]], None]) -> Any:
    """An OAuth2Session set up for Orange Logic, with automatic refresh at the stand-in's token endpoint.

    - ``auto_refresh_kwargs`` puts client_id and client_secret in the refresh body (Orange Logic
      requires all four fields in the body; there is no Basic auth);
    - the compliance hook above moves the refresh token to ``code``;
    - ``expires_at`` comes from the stored pair, so oauthlib refreshes once it has passed.

    The stand-in speaks plain HTTP on 127.0.0.1, which oauthlib refuses unless
    OAUTHLIB_INSECURE_TRANSPORT is set; the caller sets it.
    """
    from requests_oauthlib import OAuth2Session

    token = {
        "access_token": pair.access_token,
        "refresh_token": pair.refresh_token,
        "token_type": pair.token_type,
        "expires_at": pair.access_expiry_ts,
    }
    session = OAuth2Session(
        client_id=CLIENT_ID,
        token=token,
        auto_refresh_url=base_url + TOKEN_ENDPOINT,
        auto_refresh_kwargs={"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET},
        token_updater=token_updater,
    )
    session.register_compliance_hook("refresh_token_request", orange_logic_refresh_body)
    return session


def fingerprint(token: str | None) -> str | None:
    """Tells tokens apart in results without writing the tokens themselves anywhere."""
    return hashlib.sha256(token.encode()).hexdigest()[:12] if token else None


# -- subprocess workers -------------------------------------------------------------------------


def run_worker(
    module: str, args: Sequence[str], *, env: Mapping[str, str] | None = None, timeout: float = 600
) -> dict[str, Any]:
    """Run ``python -m benchmarks.<module> ... --out FILE`` from the repository root; return FILE's JSON."""
    with tempfile.TemporaryDirectory(prefix="ol-bench-") as tmp:
        out = Path(tmp) / "result.json"
        result = subprocess.run(
            [sys.executable, "-m", f"benchmarks.{module}", *args, "--out", str(out)],
            cwd=REPO,
            env=dict(env) if env is not None else None,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
            stdin=subprocess.DEVNULL,
        )
        if result.returncode != 0 or not out.exists():
            tail = "\n".join((result.stdout + result.stderr).splitlines()[-30:])
            raise RuntimeError(f"benchmarks.{module} exited {result.returncode}:\n{tail}")
        return json.loads(out.read_text())


def write_json(path: str | os.PathLike[str], payload: Any) -> None:
    Path(path).write_text(json.dumps(payload, indent=2))


# -- the machine --------------------------------------------------------------------------------


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _version(distribution: str) -> str:
    try:
        return metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return "not installed"


def machine_info() -> dict[str, str]:
    return {
        "nproc": str(os.cpu_count()),
        "cpu": _cpu_model(),
        "kernel": platform.release(),
        "python": platform.python_version(),
        "apache-airflow": _version("apache-airflow"),
        "apache-airflow-providers-http": _version("apache-airflow-providers-http"),
        "requests": _version("requests"),
        "requests-oauthlib": _version("requests-oauthlib"),
        "oauthlib": _version("oauthlib"),
    }
