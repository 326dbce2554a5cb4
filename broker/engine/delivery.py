"""Where a code went, as Cognito shows it (``CodeDeliveryDetails.Destination``,
``CODE_DELIVERY_DESTINATION``): enough for the user to recognise the address, not enough
for anyone else to learn it."""
from __future__ import annotations


def masked(destination: str) -> str:
    """``alice@example.com`` → ``a***@e***``; ``+15555550123`` → ``+*******0123``."""
    if "@" in destination:
        local, _at, domain = destination.partition("@")
        return f"{local[:1]}***@{domain[:1]}***"
    if destination.startswith("+"):
        return "+" + "*" * max(len(destination) - 5, 0) + destination[-4:]
    return "***"
