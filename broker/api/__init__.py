"""Cognito's programmatic face: the AWS JSON 1.1 APIs at the broker's base URL.

- :mod:`.protocol`: the blueprint at ``POST /`` (X-Amz-Target dispatch, JSON in and out,
  AWS errors, CORS);
- :mod:`.model`: AWS's service models (botocore's data) and the input checks they define;
- :mod:`.registry` and :mod:`.call`: how operations are registered and what they get;
- :mod:`.errors`: AWS errors, and the project's exceptions mapped to them in one place;
- one module per group of operations, listed in :data:`OPERATION_MODULES`.

Importing this package loads no operation and opens nothing: :func:`load_operations` does,
from ``create_app``.
"""
from __future__ import annotations

import importlib

#: The modules whose ``@operation`` functions the API answers; adding one is one line here.
OPERATION_MODULES = (
    "broker.api.user_operations",
    "broker.api.identity_pools",
    "broker.api.identity_credentials",
    "broker.api.identity_operations",
    "broker.api.auth_operations",
    "broker.api.custom_auth_operations",
    "broker.api.refresh_operations",
    "broker.api.device_operations",
    "broker.api.admin_users",
    "broker.api.admin_auth",
    "broker.api.admin_groups",
    "broker.api.admin_list_users",
    "broker.api.admin_providers",
    "broker.api.account_operations",
    "broker.api.account_mfa",
    "broker.api.passkey_operations",
    "broker.api.user_auth_operations",
    "broker.api.import_jobs",
    "broker.api.admin_pools",
    "broker.api.admin_pool_options",
    "broker.api.admin_clients",
    "broker.api.admin_idps",
    "broker.api.admin_resources",
)


def load_operations() -> None:
    for name in OPERATION_MODULES:
        importlib.import_module(name)
