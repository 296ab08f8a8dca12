"""The figures one deployment's run produced, and the table docs/deployments.md publishes."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class Figures:
    """What a reader of docs/deployments.md wants to know about one run; never a token."""

    deployment: str
    shape: str
    access_lifetime: float
    refresh_lifetime: float
    consumers: int
    consumers_succeeded: int
    consumer_retries: int
    peak_concurrent_consumers: int
    consumer_start_spread_seconds: float
    consumers_per_host: dict[str, int]
    search_calls: int
    min_access_tokens_per_consumer: int
    slowest_call_seconds: float
    stalled_calls: int
    unauthorized_answers: int
    refresh_task_tries: int
    refresh_task_retries: int
    refreshes_reported_by_refresh_dag: int
    window_seconds: float
    token_endpoint_calls: int
    refresh_calls: int
    refresh_token_reuses: int
    grants_revoked: int
    wall_seconds: float = field(default=0.0)

    @property
    def expiries_crossed(self) -> float:
        """How many access-token lifetimes the run spanned, from the first pair to the last refresh."""
        return self.window_seconds / self.access_lifetime

    @property
    def refresh_calls_per_expiry(self) -> float:
        return self.refresh_calls / self.expiries_crossed if self.expiries_crossed else float("nan")


COLUMNS = (
    ("Deployment", lambda f: f.deployment),
    ("Consumer tasks ok / run", lambda f: f"{f.consumers_succeeded} / {f.consumers}"),
    ("Retries (consumer / refresh)", lambda f: f"{f.consumer_retries} / {f.refresh_task_retries}"),
    ("Peak concurrent consumers", lambda f: str(f.peak_concurrent_consumers)),
    ("Consumers per host", lambda f: ", ".join(f"{h} {n}" for h, n in sorted(f.consumers_per_host.items()))),
    ("Search calls", lambda f: str(f.search_calls)),
    ("Refresh DAG task runs", lambda f: str(f.refresh_task_tries)),
    ("Window (s)", lambda f: f"{f.window_seconds:.0f}"),
    ("Access-token expiries crossed", lambda f: f"{f.expiries_crossed:.1f}"),
    ("Token-endpoint calls (refresh)", lambda f: f"{f.token_endpoint_calls} ({f.refresh_calls})"),
    ("Refresh calls per expiry", lambda f: f"{f.refresh_calls_per_expiry:.2f}"),
    ("Refresh-token reuses", lambda f: str(f.refresh_token_reuses)),
    ("Revoked grants", lambda f: str(f.grants_revoked)),
    ("Wall time (s)", lambda f: f"{f.wall_seconds:.0f}"),
)


def markdown_table(runs: list[Figures]) -> str:
    header = "| " + " | ".join(name for name, _ in COLUMNS) + " |"
    rule = "|" + "|".join("---" for _ in COLUMNS) + "|"
    rows = ["| " + " | ".join(cell(run) for _, cell in COLUMNS) + " |" for run in runs]
    return "\n".join([header, rule, *rows])


def details(run: Figures) -> str:
    """The figures the table leaves out, one line per deployment."""
    return (
        f"{run.deployment}: {run.shape}; access {run.access_lifetime:.0f} s / refresh {run.refresh_lifetime:.0f} s; "
        f"all consumers started within {run.consumer_start_spread_seconds:.0f} s; "
        f"each consumer used >= {run.min_access_tokens_per_consumer} access tokens; slowest call "
        f"{run.slowest_call_seconds:.1f} s; {run.stalled_calls} calls waited > 2 s; "
        f"{run.unauthorized_answers} 401 answers (rotated-out access token, retried with the stored one); "
        f"refreshes reported by the refresh DAG {run.refreshes_reported_by_refresh_dag}."
    )


# Filled by the deployment_run fixture, printed by pytest_terminal_summary (tests/e2e/conftest.py).
PUBLISHED: list[Figures] = []
