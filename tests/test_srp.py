"""Cognito's SRP-6a, server side (broker/engine/srp.py), driven by a real client: pycognito's
``AWSSRP`` computes A and answers the PASSWORD_VERIFIER challenge exactly as it answers
Cognito. Only its clock is set where a test needs a given TIMESTAMP."""
from __future__ import annotations

import base64
import datetime as dt
import json
import secrets
from collections.abc import Iterator

import pytest
from pycognito import aws_srp
from pycognito.aws_srp import AWSSRP

from broker.engine import srp

POOL_ID = "local_Ab12Cd34E"
POOL = "Ab12Cd34E"
PASSWORD = "Corr3ct-Horse!"


class Answer:
    """One sign-in as the client makes it: A, then the answer to the server's challenge."""

    def __init__(self, verifier: srp.Verifier, username: str = "alice", password: str = PASSWORD,
                 timestamp: str | None = None, pool_id: str = POOL_ID) -> None:
        self.pool = srp.pool_name(pool_id)
        client = AWSSRP(username, password, pool_id, "client-id", client=object())
        if timestamp is not None:
            client.get_cognito_formatted_timestamp = lambda _now: timestamp  # type: ignore[method-assign]
        self.params = client.get_auth_params()
        self.state, srp_b, salt = srp.challenge(verifier)
        self.block = srp.new_secret_block()
        self.response = client.process_challenge(
            {"USER_ID_FOR_SRP": username, "SALT": salt, "SRP_B": srp_b,
             "SECRET_BLOCK": self.block}, self.params)

    def verify(self, username: str = "alice", block: str | None = None, srp_a: str | None = None,
               now: dt.datetime | None = None) -> bool:
        state = srp.ServerState.from_dict(json.loads(json.dumps(self.state.as_dict())))  # as kept in Redis
        return srp.verify(state, self.pool, username, srp_a or self.params["SRP_A"], block or self.block,
                          self.response["TIMESTAMP"], self.response["PASSWORD_CLAIM_SIGNATURE"],
                          now or dt.datetime.now(dt.timezone.utc))


@pytest.fixture(scope="module")
def alice() -> srp.Verifier:
    return srp.make_verifier(POOL, "alice", PASSWORD)


def test_right_password_verifies_and_wrong_one_does_not(alice: srp.Verifier) -> None:
    assert Answer(alice).verify()
    assert not Answer(alice, password=PASSWORD + "x").verify()
    assert not Answer(alice, password=PASSWORD.lower()).verify()


def test_each_challenge_is_new_and_carries_the_verifiers_salt(alice: srp.Verifier) -> None:
    first, second = srp.challenge(alice), srp.challenge(alice)
    assert first[2] == second[2] == alice.salt
    assert first[1] != second[1] and first[0].b != second[0].b
    assert int(first[1], 16) == first[0].big_b and 0 < first[0].big_b < srp.N


def test_a_verifier_answers_only_for_its_own_username(alice: srp.Verifier) -> None:
    bob = srp.make_verifier(POOL, "bob", PASSWORD)
    assert not Answer(bob, username="alice").verify(username="alice")
    assert not Answer(bob, username="alice").verify(username="bob")
    assert Answer(bob, username="bob").verify(username="bob")
    other_pool = srp.make_verifier("Zz99Yy88X", "alice", PASSWORD)
    assert not Answer(other_pool).verify()


def test_a_answer_signed_over_another_secret_block_is_refused(alice: srp.Verifier) -> None:
    answer = Answer(alice)
    assert not answer.verify(block=srp.new_secret_block())
    assert not answer.verify(block="not base64!")
    assert answer.verify()


@pytest.mark.parametrize("srp_a", [0, srp.N, 2 * srp.N])
def test_a_that_is_zero_mod_n_is_refused(alice: srp.Verifier, srp_a: int) -> None:
    with pytest.raises(srp.InvalidSrpA):
        Answer(alice).verify(srp_a=format(srp_a, "x"))


@pytest.mark.parametrize("srp_a", ["", "0x1f", "1_f", " 1f", "xyz", "1" * (srp.MAX_A_HEX + 1)])
def test_a_that_is_no_bounded_hex_number_is_refused(srp_a: str) -> None:
    with pytest.raises(srp.InvalidSrpA):
        srp.parse_srp_a(srp_a)


def test_another_a_than_the_one_signed_with_does_not_verify(alice: srp.Verifier) -> None:
    answer = Answer(alice)
    assert not answer.verify(srp_a=format(int(answer.params["SRP_A"], 16) + srp.N, "x"))


def test_a_timestamp_more_than_five_minutes_away_is_refused(alice: srp.Verifier) -> None:
    now = dt.datetime.now(dt.timezone.utc)
    for minutes in (-6, 6, -60 * 24):
        answer = Answer(alice, timestamp=srp.format_timestamp(now + dt.timedelta(minutes=minutes)))
        with pytest.raises(srp.StaleTimestamp):
            answer.verify(now=now)
    for minutes in (-4, 4):
        assert Answer(alice, timestamp=srp.format_timestamp(now + dt.timedelta(minutes=minutes))).verify(now=now)


def test_the_clients_timestamp_has_an_unpadded_day_and_is_read_back() -> None:
    when = dt.datetime(2026, 9, 5, 8, 7, 6, tzinfo=dt.timezone.utc)
    text = AWSSRP.get_cognito_formatted_timestamp(when.replace(tzinfo=None))
    assert text == "Sat Sep 5 08:07:06 UTC 2026" == srp.format_timestamp(when)
    assert srp.parse_timestamp(text) == when
    assert srp.format_timestamp(dt.datetime(2026, 12, 25, 23, 0, 0, tzinfo=dt.timezone.utc)) == \
        "Fri Dec 25 23:00:00 UTC 2026"


def test_a_signed_zero_padded_day_or_wrong_weekday_fails_as_on_cognito(alice: srp.Verifier) -> None:
    """Cognito reads these but signs its own form of the time: the signature cannot match."""
    now = dt.datetime(2026, 9, 5, 8, 7, 6, tzinfo=dt.timezone.utc)
    canonical, padded, wrong_weekday = ("Sat Sep 5 08:07:06 UTC 2026", "Sat Sep 05 08:07:06 UTC 2026",
                                        "Sun Sep 5 08:07:06 UTC 2026")
    assert srp.parse_timestamp(padded) == srp.parse_timestamp(wrong_weekday) == now
    assert Answer(alice, timestamp=canonical).verify(now=now)
    assert not Answer(alice, timestamp=padded).verify(now=now)
    assert not Answer(alice, timestamp=wrong_weekday).verify(now=now)


@pytest.mark.parametrize("text", ["", "2026-09-05T08:07:06Z", "Sat Sep 5 08:07:06 IST 2026", "Sat Sep 31 08:07:06 UTC 2026",
                                  "Sat Foo 5 08:07:06 UTC 2026", "Xyz Sep 5 08:07:06 UTC 2026",
                                  "Sat Sep 5 08:07:06 UTC 2026 ", "Sat Sep 5 25:07:06 UTC 2026"])
def test_a_timestamp_not_in_cognitos_form_is_refused(alice: srp.Verifier, text: str) -> None:
    with pytest.raises(srp.InvalidTimestamp, match="TIMESTAMP format should be EEE MMM d HH:mm:ss z yyyy"):
        Answer(alice, timestamp=text).verify()


def test_pad_hex_matches_the_clients_for_every_length_and_high_bit() -> None:
    values = [0, 1, 0x7F, 0x80, 0xFF, 0x100, 0x7FFF, 0x8000, srp.N, srp.N - 1, 2**255, 2**256 - 1]
    values += [secrets.randbits(n) for n in range(1, 300, 7)]
    for value in values:
        assert srp.pad_hex(value) == aws_srp.pad_hex(value)
        assert len(srp.pad_hex(value)) % 2 == 0 and srp.pad_hex(value)[0] in "01234567"


def test_k_and_the_verifier_match_an_independent_computation(alice: srp.Verifier) -> None:
    client = AWSSRP("alice", PASSWORD, POOL_ID, "client-id", client=object())
    assert srp.K == client.val_k and srp.N == client.big_n and srp.G == client.val_g
    inner = aws_srp.hash_sha256(f"{POOL}alice:{PASSWORD}".encode())
    x = aws_srp.hex_to_long(aws_srp.hex_hash(aws_srp.pad_hex(alice.salt) + inner))
    assert pow(client.val_g, x, client.big_n) == alice.verifier


@pytest.fixture
def fixed_salt(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[bytes]]:
    """Salts chosen by the test: the next ``make_verifier`` takes the first."""
    salts: list[bytes] = []
    real = srp.secrets.token_bytes
    monkeypatch.setattr(srp.secrets, "token_bytes", lambda n: salts.pop(0) if salts and n == 16 else real(n))
    yield salts


@pytest.mark.parametrize("first_bytes", [b"\x00\x00", b"\x00\x80", b"\x80\x00", b"\x0f\xff", b"\xff\xff"])
def test_salts_with_leading_zeros_or_the_high_bit_set_verify(fixed_salt: list[bytes], first_bytes: bytes) -> None:
    """SALT is sent in the padded form, which the JS clients rebuild from its value and
    pycognito uses as sent: both then hash the same bytes."""
    fixed_salt.append(first_bytes + secrets.token_bytes(14))
    verifier = srp.make_verifier(POOL, "alice", PASSWORD)
    assert verifier.salt == aws_srp.pad_hex(int(verifier.salt, 16))
    assert Answer(verifier).verify()


def test_a_username_with_non_ascii_characters_verifies() -> None:
    verifier = srp.make_verifier(POOL, "zoë", "Pässwörd-ünd-mehr-1")
    assert Answer(verifier, username="zoë", password="Pässwörd-ünd-mehr-1").verify(username="zoë")


def test_verifier_and_state_round_trip_and_refuse_anything_else(alice: srp.Verifier) -> None:
    text = alice.dumps()
    assert text.startswith(f"srp1.{alice.salt}.") and srp.Verifier.loads(text) == alice
    for bad in ["", "srp1", "srp1..", f"srp2.{alice.salt}.{alice.verifier:x}", f"srp1.00{alice.salt}.{alice.verifier:x}",
                f"srp1.{alice.salt}.0", f"srp1.{alice.salt}.{srp.N:x}", f"srp1.{alice.salt}.0x1f", f"srp1.zz.{alice.verifier:x}"]:
        with pytest.raises(ValueError):
            srp.Verifier.loads(bad)
    state = srp.challenge(alice)[0]
    data = state.as_dict()
    assert set(data) == {"b", "B", "v"} and srp.ServerState.from_dict(data) == state
    for bad_state in [{}, None, {**data, "b": "0"}, {**data, "B": 5}, {**data, "v": format(srp.N, "x")}, {**data, "B": "g"}]:
        with pytest.raises(ValueError):
            srp.ServerState.from_dict(bad_state)  # type: ignore[arg-type]


def test_a_decoy_verifier_keeps_its_salt_per_name_and_opens_for_no_password() -> None:
    key = secrets.token_bytes(32)
    decoy = srp.decoy_verifier(key, POOL, "nobody")
    assert decoy == srp.decoy_verifier(key, POOL, "nobody")
    assert decoy.salt != srp.decoy_verifier(key, POOL, "somebody").salt
    assert decoy.salt != srp.decoy_verifier(secrets.token_bytes(32), POOL, "nobody").salt
    assert srp.Verifier.loads(decoy.dumps()) == decoy
    assert not Answer(decoy, username="nobody").verify(username="nobody")


def test_secret_blocks_are_fresh_base64() -> None:
    blocks = {srp.new_secret_block() for _ in range(20)}
    assert len(blocks) == 20 and all(len(base64.b64decode(b, validate=True)) == 32 for b in blocks)


def test_the_pool_name_is_what_clients_take_from_the_pool_id() -> None:
    assert srp.pool_name(POOL_ID) == POOL_ID.split("_")[1] == POOL
