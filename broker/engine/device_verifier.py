"""DEVICE_SRP_AUTH and DEVICE_PASSWORD_VERIFIER: a tracked device proves, by Cognito's SRP
with its DeviceGroupKey in place of the pool name and its DeviceKey in place of the
username, that it holds the random device password it set at ConfirmDevice
(:mod:`broker.userpool.tracked_devices`). A remembered device that proves itself skips the
second factor; one not remembered proves itself after it (:func:`signin.device_challenge`);
an unproven DEVICE_KEY counts for nothing.

    step = device_verifier.start(env, progress, user, srp_a)            # DEVICE_PASSWORD_VERIFIER
    step = device_verifier.answer(env, progress, user, timestamp, sig)  # MFA, or signed in
"""
from __future__ import annotations

import dataclasses
import json
from typing import Any

from .. import sealing
from ..store.models import User, utcnow
from ..userpool import audit, tracked_devices
from . import srp
from .challenges import DEVICE_PASSWORD_VERIFIER, ENDED, Challenge, Refused, Step
from .signin import Env, second_factor, signed_in

STATE_PURPOSE = "device-srp-state"
#: What the device steps keep besides the sign-in's progress.
SRP_KEYS = ("srp", "srp_a", "block")


def start(env: Env, progress: dict[str, Any], user: User, srp_a: str) -> Challenge:
    """DEVICE_SRP_AUTH: the device's SRP_A answered with SRP_B, its SALT and a SECRET_BLOCK
    (:class:`srp.InvalidSrpA` for an A that is no number or ≡ 0 mod N)."""
    srp.parse_srp_a(srp_a)
    device = tracked_devices.find(env.db, user, progress.get("device_key"))
    verifier = tracked_devices.verifier(env.db, device) if device is not None else None
    if device is None or verifier is None:
        raise Refused(ENDED, "Device does not exist.")
    state, big_b, salt = srp.challenge(verifier)
    block = srp.new_secret_block()
    sealed = sealing.of(env.db).seal(STATE_PURPOSE, json.dumps(state.as_dict()).encode(), bound_to=block)
    waiting = {**progress, "step": DEVICE_PASSWORD_VERIFIER, "srp": sealed, "srp_a": srp_a, "block": block}
    return Challenge(DEVICE_PASSWORD_VERIFIER, waiting, {"SRP_B": big_b, "SALT": salt, "SECRET_BLOCK": block,
                                                         "DEVICE_KEY": str(device.device_key),
                                                         "USERNAME": user.username})


def answer(env: Env, progress: dict[str, Any], user: User, timestamp: str, signature: str) -> Step:
    """DEVICE_PASSWORD_VERIFIER: the device's signature (:class:`srp.StaleTimestamp` or
    :class:`srp.InvalidTimestamp` first); a proven remembered device skips MFA, and one
    proven after the second factor ends the sign-in."""
    now = utcnow()
    srp.check_timestamp(timestamp, now)
    block = progress["block"]
    device = tracked_devices.find(env.db, user, progress.get("device_key"))
    raw = sealing.of(env.db).unseal(STATE_PURPOSE, progress.get("srp"), bound_to=block)
    state = srp.ServerState.from_dict(json.loads(raw)) if raw else None
    proven = state is not None and device is not None and srp.verify(
        state, str(device.group_key), str(device.device_key), progress["srp_a"], block, timestamp, signature, now)
    audit.record(env.db, env.pool.id, "DeviceSignIn", audit.PASS if proven else audit.FAIL, user=user,
                 ip=env.context.ip, device=progress.get("device_key"))
    env.db.commit()
    if not proven or device is None:
        raise Refused(ENDED, "Incorrect username or password.")
    after = {k: v for k, v in progress.items() if k not in SRP_KEYS} | {"device_proven": True}
    context = dataclasses.replace(env.context, device_key=str(device.device_key))  # noted as this device
    proven_env = dataclasses.replace(env, context=context, remembered_skips_mfa=True, note_device=True)
    if after.get("factors_done"):  # the device came last, after the second factor
        return signed_in(proven_env, after, user)
    return second_factor(proven_env, after, user)
