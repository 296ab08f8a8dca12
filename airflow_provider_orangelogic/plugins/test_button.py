"""Airflow 3.3's Test button in the connection list, made to work for ``orangelogic`` connections.

The row's Test button posts the stored connection with ``"port": 0`` when its port is empty (the UI
sends ``Number(null)``). Airflow 3.3's ``POST /api/v2/connections/test`` takes a port differing from the
stored one for a new destination and answers 400 "Bad Request" unless the real password is included,
which the list never has. The port is hidden and unused for this connection type, so this root
middleware drops a zero ``port`` from that request when ``conn_type`` is ``orangelogic``; every other
request, and every other connection type, passes through byte for byte. The Test button inside the
edit form never sends the hidden port and needs no help. Airflow 3.0 to 3.2 do not compare ports.
"""

from __future__ import annotations

import json
from typing import Any

from airflow_provider_orangelogic.core.fields import CONN_TYPE

TEST_PATH = "/api/v2/connections/test"
_MAX_BODY = 1 << 20  # a connection is a few KiB; larger bodies are passed on untouched


def without_port_zero(body: bytes) -> bytes | None:
    """The body without its zero port when it tests an orangelogic connection; None to leave it as it is."""
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return None
    if not isinstance(data, dict) or data.get("conn_type") != CONN_TYPE or data.get("port") not in (0, "0"):
        return None
    del data["port"]
    return json.dumps(data).encode("utf-8")


class OrangeLogicTestButtonFix:
    """Pure ASGI middleware; see the module's docstring."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        is_test = scope.get("method") == "POST" and scope.get("path", "").endswith(TEST_PATH)
        if scope.get("type") != "http" or not is_test:
            await self.app(scope, receive, send)
            return
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                break
            chunk = message.get("body", b"")
            chunks.append(chunk)
            size += len(chunk)
            if not message.get("more_body", False) or size > _MAX_BODY:
                break
        body = b"".join(chunks)
        more = size > _MAX_BODY
        fixed = None if more else without_port_zero(body)
        if fixed is not None:
            body = fixed
            headers = [(k, v) for k, v in scope.get("headers", []) if k.lower() != b"content-length"]
            scope = {**scope, "headers": [*headers, (b"content-length", str(len(body)).encode())]}
        replayed = False

        async def replay() -> dict[str, Any]:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": more}
            return await receive()

        await self.app(scope, replay, send)
