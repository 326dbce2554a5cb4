"""Account-security settings of a pool, with Cognito-like defaults in one place. Stored as
JSON in ``UserPool.security``; missing keys take the defaults."""
from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from typing import Any

from ..errors import InvalidInput

ACTIONS = ("ALLOW", "MFA", "BLOCK")
LEVELS = ("LOW", "MEDIUM", "HIGH")


@dataclass(frozen=True)
class Security:
    #: Failed sign-ins (per user) before the account is locked for ``lockout_seconds``.
    lockout_threshold: int = 5
    lockout_seconds: int = 900
    #: Earlier passwords a new one may not repeat (0: no history kept).
    password_history: int = 0
    #: Refuse passwords found in the shipped list of breached/common passwords.
    compromised_check: bool = True
    #: Days an admin-set temporary password keeps working (Cognito: 7).
    temp_password_days: int = 7
    #: Days a device the user chose to remember may skip MFA (0: never).
    remember_devices_days: int = 0
    #: Keep an SRP verifier of each password, so that USER_SRP_AUTH can sign users in.
    srp_enabled: bool = True
    #: Adaptive authentication: what each risk level leads to.
    adaptive: dict[str, str] = field(default_factory=lambda: {"LOW": "ALLOW", "MEDIUM": "ALLOW", "HIGH": "BLOCK"})

    @classmethod
    def of(cls, data: dict[str, Any] | None) -> Security:
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in (data or {}).items() if k in known})

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    def check(self) -> Security:
        """Raise InvalidInput naming the first setting out of range."""
        bounds = {"lockout_threshold": (1, 100), "lockout_seconds": (1, 86400), "password_history": (0, 24),
                  "temp_password_days": (1, 365), "remember_devices_days": (0, 365)}
        for name, (low, high) in bounds.items():
            if not low <= int(getattr(self, name)) <= high:
                raise InvalidInput(f"{name.replace('_', '-')} must be between {low} and {high}")
        if set(self.adaptive) - set(LEVELS) or any(v not in ACTIONS for v in self.adaptive.values()):
            raise InvalidInput(f"adaptive policy maps {'/'.join(LEVELS)} to {'/'.join(ACTIONS)}")
        return self
