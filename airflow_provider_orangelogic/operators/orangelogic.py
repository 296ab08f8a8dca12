"""Operators for the Orange Logic token lifecycle: thin wrappers around OrangeLogicHook."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseOperator

from airflow_provider_orangelogic.hooks import _airflow_context
from airflow_provider_orangelogic.hooks.orangelogic import OrangeLogicHook

if TYPE_CHECKING:
    from airflow.sdk import Context


class OrangeLogicExchangeCodeOperator(BaseOperator):
    """Trade an authorization code for the first token pair and store it in the connection's Variable.

    :param code: The authorization code from the redirect address (templated, e.g.
        ``"{{ params.code }}"``). It is masked before it can reach a log or the rendered-template view.
    :param orangelogic_conn_id: The Orange Logic connection (templated).

    Pushes to XCom only a summary (host, expiry times), never a token.
    """

    template_fields: Sequence[str] = ("code", "orangelogic_conn_id")
    ui_color = "#f7a35c"

    def __init__(self, *, code: str, orangelogic_conn_id: str = OrangeLogicHook.default_conn_name, **kwargs) -> None:
        super().__init__(**kwargs)
        self.code = code
        self.orangelogic_conn_id = orangelogic_conn_id

    def render_template_fields(self, context: Context, jinja_env: Any = None) -> None:
        super().render_template_fields(context, jinja_env)
        # Masked right after rendering, before the rendered fields are sent to the API server.
        if isinstance(self.code, str):
            _airflow_context.mask(self.code, self.code.strip())

    def execute(self, context: Context) -> dict[str, Any]:
        return OrangeLogicHook(self.orangelogic_conn_id).exchange_code(self.code)


class OrangeLogicRefreshTokenOperator(BaseOperator):
    """Refresh the connection's token pair when the refresh policy says so, or always with ``force``.

    Fails without retrying (AirflowFailException) when the grant is gone and a person must authorize
    again; the stored pair is never overwritten by a failed refresh.

    :param orangelogic_conn_id: The Orange Logic connection (templated).
    :param force: Refresh even if the access token is still fresh.
    """

    template_fields: Sequence[str] = ("orangelogic_conn_id",)
    ui_color = "#f7a35c"

    def __init__(
        self, *, orangelogic_conn_id: str = OrangeLogicHook.default_conn_name, force: bool = False, **kwargs
    ) -> None:
        super().__init__(**kwargs)
        self.orangelogic_conn_id = orangelogic_conn_id
        self.force = force

    def execute(self, context: Context) -> dict[str, Any]:
        return OrangeLogicHook(self.orangelogic_conn_id).refresh_tokens(force=self.force)
