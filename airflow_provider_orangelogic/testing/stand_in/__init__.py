"""A local stand-in for the Orange Logic OAuth 2.0 and Search endpoints.

It lets the whole token lifecycle (authorization code, refresh, rotation, reuse detection,
expiry) and paged searches run on one machine with no network, both in-process for unit
tests and as a separate process (``python -m airflow_provider_orangelogic.testing``).

Only the standard library is used so that the stand-in can run in any interpreter without
Airflow or ``requests`` installed. It listens on the loopback interface only: it hands out
tokens to anyone who asks, so it must never be reachable from another machine.

Behaviour that Orange Logic does not document (refresh token rotation, reuse detection) is
configurable through :class:`StandInConfig` and defaults to the strictest reading, because a
client that survives the strict server also survives a lenient one.

One module per concern:

- ``config``: :class:`StandInConfig` and its checks;
- ``grants``: codes and grants (issuing, rotation, reuse detection, revocation);
- ``catalogue``: generated assets, queries, search pages, JSON and XML answers;
- ``faults``: injectable faults, one class per kind (``add_fault(endpoint, kind, count=1, **options)``);
- ``service``: routes, the request handlers and the ``/_standin/...`` control endpoints;
- ``server``: the HTTP server on 127.0.0.1 and :class:`OrangeLogicStandIn`;
- ``messages``: the request and response values passed between ``server`` and ``service``.
"""

from airflow_provider_orangelogic.testing.stand_in.catalogue import MEDIA_TYPES
from airflow_provider_orangelogic.testing.stand_in.config import StandInConfig
from airflow_provider_orangelogic.testing.stand_in.faults import FAULT_ENDPOINTS, FAULTS, Fault, describe_faults
from airflow_provider_orangelogic.testing.stand_in.server import LOOPBACK, OrangeLogicStandIn
from airflow_provider_orangelogic.testing.stand_in.service import CONTROL_PREFIX, COUNTER_NAMES

__all__ = [
    "CONTROL_PREFIX",
    "COUNTER_NAMES",
    "FAULTS",
    "FAULT_ENDPOINTS",
    "LOOPBACK",
    "MEDIA_TYPES",
    "Fault",
    "OrangeLogicStandIn",
    "StandInConfig",
    "describe_faults",
]
