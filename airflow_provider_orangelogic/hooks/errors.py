"""The provider's errors as Airflow sees them: what no retry can fix fails the task at once.

``core/errors.py`` holds the errors of the Airflow-free layers; these subclasses add ``AirflowFailException``
so that Airflow skips the task's retries, and ``airflow_errors`` turns one into the other at the hook's edge.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator

from airflow_provider_orangelogic.compat import AirflowFailException
from airflow_provider_orangelogic.core.errors import (
    ConfigurationError,
    ReauthorizationRequired,
    TokenStoreError,
    TokenStoreUnavailable,
)


class OrangeLogicReauthorizationRequired(ReauthorizationRequired, AirflowFailException):
    """A person must authorize again; the task fails at once instead of retrying."""


class OrangeLogicConfigurationError(ConfigurationError, AirflowFailException):
    """The connection or an argument is wrong; retrying cannot help."""


class OrangeLogicTokenStoreError(TokenStoreError, AirflowFailException):
    """The stored pair is missing, corrupt, for another host or shadowed; retrying cannot help."""


@contextlib.contextmanager
def airflow_errors(authorization_hint: Callable[[], str]) -> Iterator[None]:
    """Turn errors no retry can fix into the subclasses above, keeping their messages.

    ``authorization_hint()`` is appended to a re-authorization error: how to authorize this connection again.
    A store that is only unavailable (``TokenStoreUnavailable``) stays retryable.
    """
    try:
        yield
    except ReauthorizationRequired as err:
        if isinstance(err, AirflowFailException):
            raise
        raise OrangeLogicReauthorizationRequired(
            f"{err} {authorization_hint()}",
            oauth_error=err.oauth_error,
            description=err.description,
            status_code=err.status_code,
        ) from None
    except ConfigurationError as err:
        if isinstance(err, AirflowFailException):
            raise
        raise OrangeLogicConfigurationError(str(err)) from None
    except TokenStoreError as err:
        if isinstance(err, (AirflowFailException, TokenStoreUnavailable)):
            raise
        raise OrangeLogicTokenStoreError(str(err)) from None
