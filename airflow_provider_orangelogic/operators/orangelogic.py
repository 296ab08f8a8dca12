"""Operators for the Orange Logic token lifecycle: thin wrappers around OrangeLogicHook."""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from airflow_provider_orangelogic.compat import BaseOperator
from airflow_provider_orangelogic.core.errors import ConfigurationError
from airflow_provider_orangelogic.hooks import _airflow_context
from airflow_provider_orangelogic.hooks.orangelogic import OrangeLogicConfigurationError, OrangeLogicHook
from airflow_provider_orangelogic.oauth.redirect import parse_pasted

if TYPE_CHECKING:
    from airflow.sdk import Context


class OrangeLogicExchangeCodeOperator(BaseOperator):
    """Trade an authorization code for the first token pair and store it in the connection's Variable.

    :param code: The whole redirect address the browser landed on (code and state are taken from it), or
        the bare code with ``state``; templated, e.g. ``"{{ params.code }}"``. It is masked before it can
        reach a log or the rendered-template view.
    :param orangelogic_conn_id: The Orange Logic connection (templated).
    :param state: The state that came back with a bare code (templated); not needed with an address.
    :param skip_state_check: Exchange without checking the state (templated, e.g.
        ``"{{ params.skip_state_check }}"``). By default the state must be one
        ``OrangeLogicHook.get_authorization_url()`` issued for this connection, unused and recent
        (``[orangelogic] state_lifetime_seconds``); skip only for an authorization URL this deployment did
        not issue, opened on purpose.

    Pushes to XCom only a summary (host, expiry times), never a token.
    """

    template_fields: Sequence[str] = ("code", "orangelogic_conn_id", "state", "skip_state_check")
    ui_color = "#f7a35c"

    def __init__(
        self,
        *,
        code: str,
        orangelogic_conn_id: str = OrangeLogicHook.default_conn_name,
        state: str | None = None,
        skip_state_check: bool | str = False,
        **kwargs,
    ) -> None:
        super().__init__(**kwargs)
        self.code = code
        self.orangelogic_conn_id = orangelogic_conn_id
        self.state = state
        self.skip_state_check = skip_state_check

    def render_template_fields(self, context: Context, jinja_env: Any = None) -> None:
        super().render_template_fields(context, jinja_env)
        # Masked right after rendering, before the rendered fields are sent to the API server.
        if isinstance(self.code, str):
            _airflow_context.mask(self.code, self.code.strip())
            with contextlib.suppress(ConfigurationError):
                _airflow_context.mask(parse_pasted(self.code).code)

    def execute(self, context: Context) -> dict[str, Any]:
        try:
            pasted = parse_pasted(self.code)
        except ConfigurationError as err:
            raise OrangeLogicConfigurationError(str(err)) from None
        _airflow_context.mask(pasted.code)
        try:
            skip = _as_bool("skip_state_check", self.skip_state_check)
        except ValueError as err:
            raise OrangeLogicConfigurationError(str(err)) from None
        state = self.state.strip() if isinstance(self.state, str) and self.state.strip() else None
        if pasted.from_address:
            self.log.info("Took the code%s from the pasted address.", " and state" if pasted.state else "")
        return OrangeLogicHook(self.orangelogic_conn_id).exchange_code(
            pasted.code, state=state or pasted.state, skip_state_check=skip
        )


class OrangeLogicRefreshTokenOperator(BaseOperator):
    """Refresh the connection's token pair when the refresh policy says so, or always with ``force``.

    Fails without retrying (AirflowFailException) when the grant is gone and a person must authorize
    again; the stored pair is never overwritten by a failed refresh.

    :param orangelogic_conn_id: The Orange Logic connection (templated).
    :param force: Refresh even if the access token is still fresh (templated, e.g.
        ``"{{ params.force }}"``; a bool, or a rendered "True"/"False", "true"/"false", "1"/"0").
    """

    template_fields: Sequence[str] = ("orangelogic_conn_id", "force")
    ui_color = "#f7a35c"

    def __init__(
        self, *, orangelogic_conn_id: str = OrangeLogicHook.default_conn_name, force: bool = False, **kwargs
    ) -> None:
        super().__init__(**kwargs)
        self.orangelogic_conn_id = orangelogic_conn_id
        self.force = force

    def execute(self, context: Context) -> dict[str, Any]:
        return OrangeLogicHook(self.orangelogic_conn_id).refresh_tokens(force=_as_bool("force", self.force))


_TRUE = frozenset({"true", "1", "yes", "on"})
_FALSE = frozenset({"false", "0", "no", "off", "", "none"})


def _as_bool(name: str, value: Any) -> bool:
    """A bool from a bool, or from the string a template renders it to ("True", "false", "1", ...)."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    if value is None:
        return False
    if isinstance(value, str):
        text = value.strip().lower()
        if text in _TRUE:
            return True
        if text in _FALSE:
            return False
    raise ValueError(f"{name} must be true or false, got {value!r}")
