"""The ``[orangelogic]`` section of the Airflow configuration, declared once.

``get_provider_info`` publishes it under ``config`` (so ``airflow config list`` shows it with its
descriptions and defaults), the DAG factories and the hook read it with these defaults as fallbacks,
and the README's table is checked against it. Plain data, standard library only: provider discovery
imports it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

SECTION = "orangelogic"
# Kept from 0.1: the environment variable that chose the lock directory before [orangelogic] lock_dir.
LOCK_DIR_ENV = "ORANGELOGIC_LOCK_DIR"


@dataclass(frozen=True)
class Option:
    """One option of the section. ``default`` is a string, as Airflow's config defaults are."""

    name: str
    type: str  # "string", "integer", "float" or "boolean", as Airflow's provider_info schema names them
    description: str
    default: str | None
    example: str | None
    version_added: str = "0.2.0"

    @property
    def env_var(self) -> str:
        return f"AIRFLOW__{SECTION.upper()}__{self.name.upper()}"


REFRESH_CONN_IDS = Option(
    "refresh_conn_ids",
    "string",
    "Comma-separated ids of the Orange Logic connections whose token pairs the refresh DAG "
    "(orangelogic_token_refresh) keeps fresh, one mapped task each. Read when the DAG file is parsed.",
    default="orangelogic_default",
    example="orangelogic_default,orangelogic_eu",
)
REFRESH_INTERVAL_SECONDS = Option(
    "refresh_interval_seconds",
    "float",
    "Seconds between two runs of the refresh DAG. Keep it well under half the access token's lifetime "
    "(Orange Logic issues 24-hour tokens): a pair is renewed once less than the connection's "
    "refresh_threshold of its life is left. Read when the DAG file is parsed.",
    default="1800",
    example="900",
)
LOCK_DIR = Option(
    "lock_dir",
    "string",
    "Directory of the host-wide refresh lock files and the rescue journal (created with mode 0700), used "
    "when the hook is given no lock_dir. Every process refreshing the same grant on a host must use the "
    "same directory, and it must be private: owned by the user running Airflow, mode 0700, not a symbolic "
    "link (checked on every use). Required when a connection sets refresh_on_demand. Empty: the environment "
    f"variable {LOCK_DIR_ENV} if set, else a per-user directory ($AIRFLOW_HOME/orangelogic/locks), never the "
    "system temp dir.",
    default="",
    example="/var/lib/airflow/orangelogic-locks",
)

STATE_LIFETIME_SECONDS = Option(
    "state_lifetime_seconds",
    "float",
    "Seconds an authorization URL from get_authorization_url() stays good for: the exchange of its code "
    "(the orangelogic_token_exchange DAG, hook.exchange_code) accepts its state once, within this time, for "
    "the connection it was issued for. The Orange Logic page's Authorize button uses its own 10 minutes.",
    default="1800",
    example="600",
)

OPTIONS: tuple[Option, ...] = (REFRESH_CONN_IDS, REFRESH_INTERVAL_SECONDS, LOCK_DIR, STATE_LIFETIME_SECONDS)

SECTION_DESCRIPTION = (
    "The Orange Logic provider: which connections the refresh DAG renews, how often, and where the "
    "host-wide refresh locks live."
)


def provider_config() -> dict[str, Any]:
    """The ``config`` key of the provider info (Airflow's provider_info schema)."""
    return {
        SECTION: {
            "description": SECTION_DESCRIPTION,
            "options": {
                o.name: {
                    "description": o.description,
                    "version_added": o.version_added,
                    "type": o.type,
                    "example": o.example,
                    "default": o.default,
                }
                for o in OPTIONS
            },
        }
    }


def split_conn_ids(value: str) -> list[str]:
    """``refresh_conn_ids`` as a list: comma-separated, blanks dropped, order kept."""
    return [conn_id.strip() for conn_id in value.split(",") if conn_id.strip()]
