"""SNS's limits, applied before a notice is stored: 256 KB per message, a one-line ASCII subject."""

from __future__ import annotations

import json

from hypothesis import given, settings
from hypothesis import strategies as st

from ecs_rollback.domain.notices import (
    ATTRIBUTE_LIMIT,
    MESSAGE_LIMIT_BYTES,
    SUBJECT_LIMIT,
    attribute_value,
    bounded_message,
    subject_line,
)

SNS_LIMIT_BYTES = 262_144


def test_a_300_kb_alarm_dimension_is_cut_and_the_decision_still_reads() -> None:
    # Given a decision whose trigger carried a 300 KB alarm dimension
    body = {
        "outcome": "ROLLED_BACK",
        "service": "prod/web",
        "rollback_id": "rb-1",
        "message": "rolling back",
        "trigger": {"dimensions": [{"name": "ServiceName", "value": "x" * 300_000}]},
    }

    # When it is written as a notice
    message = bounded_message(body)

    # Then it fits SNS with room for the envelope, says it was cut, and keeps the decision
    assert len(message.encode()) <= MESSAGE_LIMIT_BYTES < SNS_LIMIT_BYTES
    parsed = json.loads(message)
    assert parsed["truncated"] is True
    assert (parsed["outcome"], parsed["service"], parsed["rollback_id"]) == (
        "ROLLED_BACK",
        "prod/web",
        "rb-1",
    )


def test_a_body_of_many_fields_falls_back_to_its_headline() -> None:
    # Given a body too wide to fit even with every string cut
    body = {"outcome": "FAILED", "code": "ecs_update_failed", "message": "m" * 5_000}
    body |= {f"field{i}": ["y" * 4_000] * 20 for i in range(20)}

    # Then the notice is the headline fields, marked truncated
    parsed = json.loads(bounded_message(body))
    assert set(parsed) == {"outcome", "code", "message", "truncated"}
    assert len(parsed["message"]) < 1_100


def test_a_small_body_is_left_whole() -> None:
    body = {"outcome": "SKIPPED", "message": "no known good release"}
    assert json.loads(bounded_message(body)) == body


@settings(max_examples=40, deadline=None)
@given(
    st.recursive(
        st.text(max_size=5_000) | st.integers() | st.booleans() | st.none(),
        lambda inner: (
            st.lists(inner, max_size=30) | st.dictionaries(st.text(max_size=50), inner, max_size=30)
        ),
        max_leaves=200,
    )
)
def test_any_body_fits_sns(value: object) -> None:
    message = bounded_message({"outcome": "ROLLED_BACK", "trigger": value})
    assert len(message.encode()) <= MESSAGE_LIMIT_BYTES
    json.loads(message)


@given(st.text())
def test_subjects_and_attributes_are_one_printable_line(text: str) -> None:
    subject = subject_line(text)
    assert len(subject) < SUBJECT_LIMIT
    assert subject.isascii() and "\n" not in subject and "\r" not in subject
    attribute = attribute_value(text)
    assert 0 < len(attribute) <= ATTRIBUTE_LIMIT
    assert "\n" not in attribute
