"""What a person pastes into the exchange DAG: the bare code, or the whole address the browser landed on.

No Airflow here. Messages never repeat the code.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlsplit

from airflow_provider_orangelogic.core.errors import ConfigurationError
from airflow_provider_orangelogic.oauth.token_endpoint import validate_code

_MAX_SHOWN = 200


@dataclass(frozen=True)
class Pasted:
    code: str = field(repr=False)
    #: The ``state`` of a pasted address (None for a bare code): compare it with the authorization URL's.
    state: str | None = None
    from_address: bool = False


def _looks_like_an_address(text: str) -> bool:
    return "://" in text or text.startswith("?") or "code=" in text or "error=" in text or "state=" in text


def parse_pasted(value: Any) -> Pasted:
    """The code (and state) from a bare code or a redirect address; ConfigurationError for anything else."""
    if not isinstance(value, str) or not value.strip():
        return Pasted(validate_code(value))  # raises the "empty" message
    text = value.strip()
    if not _looks_like_an_address(text):
        return Pasted(validate_code(text))
    parts = urlsplit(text)
    query = parts.query or (text[1:] if text.startswith("?") else "" if "://" in text else text)
    params = parse_qs(query, keep_blank_values=True)
    if params.get("error"):
        error = params["error"][0][:_MAX_SHOWN]
        description = params.get("error_description", [""])[0][:_MAX_SHOWN]
        declined = " The person declined the authorization." if error == "access_denied" else ""
        raise ConfigurationError(
            f"The pasted address carries no code but Orange Logic's answer error={error}"
            f"{': ' + description if description else ''}.{declined} Nothing was exchanged: authorize again."
        )
    codes = params.get("code", [])
    if not codes:
        raise ConfigurationError(
            "The pasted address has no 'code' parameter. Paste the whole address the browser landed on after "
            "pressing Authorize in Orange Logic (it contains ?code=...&state=...), or only the value of 'code'."
        )
    if len(codes) > 1:
        raise ConfigurationError("The pasted address has more than one 'code' parameter; paste the address as is.")
    states = params.get("state", [])
    return Pasted(validate_code(codes[0]), state=states[0] if states else None, from_address=True)
