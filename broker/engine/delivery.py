"""Where a code went, as Cognito shows it (``CodeDeliveryDetails.Destination``,
``CODE_DELIVERY_DESTINATION``): enough for the user to recognise the address, not enough
for anyone else to learn it."""
from __future__ import annotations

from ..userpool.delivery import mask_email, mask_phone


def masked(destination: str) -> str:
    """``alice@example.com`` → ``a***@e***``; ``+15555550123`` → ``+*******0123``."""
    if "@" in destination:
        return mask_email(destination)
    if destination.startswith("+"):
        return mask_phone(destination)
    return "***"
