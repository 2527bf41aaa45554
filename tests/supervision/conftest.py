"""Findings on Alice's workshop (崇川区, 320602), followed up by the 崇川 branch's inspector.

A mass-balance finding is raised on the workshop itself (as ``ledger.balance`` does); helpers walk a
finding through the lifecycle to a given state.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from greenisle.accounts.models import User
from greenisle.organizations.models import Organization
from greenisle.supervision.models import Finding
from greenisle.supervision.services import finding_assign, finding_close, finding_rectify, finding_verify
from supervision.helpers import raise_on


@pytest.fixture
def finding(producer: Organization) -> Finding:
    raised = raise_on(producer)
    assert raised is not None
    return raised


@pytest.fixture
def walk(regulator: User, alice: User) -> Callable[[Finding, str], Finding]:
    """``walk(finding, "verified")``: take an open finding through the lifecycle to that state, as the
    崇川 inspector (assign, verify, close) and Alice (rectify)."""

    steps: list[tuple[str, Callable[[Finding], Any]]] = [
        ("assigned", lambda f: finding_assign(actor=regulator, finding_id=f.pk, assigned_to_id=regulator.pk)),
        (
            "rectification_submitted",
            lambda f: finding_rectify(actor=alice, finding_id=f.pk, rectification="已补录台账并复核库存"),
        ),
        ("verified", lambda f: finding_verify(actor=regulator, finding_id=f.pk, decision="accept")),
        ("closed", lambda f: finding_close(actor=regulator, finding_id=f.pk)),
    ]

    def _walk(finding: Finding, state: str) -> Finding:
        for name, step in steps:
            if finding.status == state:
                break
            step(finding)
            finding.refresh_from_db()
            assert finding.status == name
        assert finding.status == state
        return finding

    return _walk
