"""Deadlines: the owner is reminded FINDING_REMINDER_DAYS days before (once per deadline), and a finding
still awaiting its rectification after the deadline is marked overdue (once)."""

from __future__ import annotations

import datetime as dt
import io
import json

import pytest
from django.core.management import call_command
from django.utils import timezone

from greenisle.audit.models import Event
from greenisle.notifications.models import Notification
from greenisle.supervision.models import Finding
from greenisle.supervision.services import finding_assign, findings_remind

DEADLINE = dt.date(2027, 6, 18)  # a Friday


def at(day: dt.date, hour: int = 9) -> dt.datetime:
    return timezone.make_aware(dt.datetime.combine(day, dt.time(hour)))


@pytest.fixture
def due(finding):
    Finding.objects.filter(pk=finding.pk).update(deadline=DEADLINE)
    finding.refresh_from_db()
    return finding


def reminders(finding):
    return Notification.objects.filter(kind="supervision.finding_due", object_id=str(finding.pk))


def actions(finding, action):
    return Event.objects.filter(object_id=str(finding.pk), action=action)


def test_the_owner_is_reminded_once_within_the_reminder_window(due, producer):
    assert findings_remind(now=at(DEADLINE - dt.timedelta(days=3))) == {"reminded": 1, "overdue": 0}
    assert findings_remind(now=at(DEADLINE - dt.timedelta(days=2))) == {"reminded": 0, "overdue": 0}
    assert findings_remind(now=at(DEADLINE)) == {"reminded": 0, "overdue": 0}

    (reminder,) = reminders(due)
    assert reminder.organization == producer and str(DEADLINE) in reminder.message
    assert actions(due, "supervision.finding.reminded").get().payload == {
        "deadline": "2027-06-18",
        "days_left": 3,
    }
    due.refresh_from_db()
    assert due.reminder_sent_at == at(DEADLINE - dt.timedelta(days=3))


def test_no_reminder_a_day_before_the_window_opens(due):
    assert findings_remind(now=at(DEADLINE - dt.timedelta(days=4), 23)) == {"reminded": 0, "overdue": 0}
    assert not reminders(due).exists()


def test_the_window_is_a_setting(due, settings):
    settings.GREENISLE = {**settings.GREENISLE, "FINDING_REMINDER_DAYS": 7}

    assert findings_remind(now=at(DEADLINE - dt.timedelta(days=7)))["reminded"] == 1


def test_past_the_deadline_the_finding_is_marked_overdue_once(due, walk, producer, regulator):
    walk(due, "assigned")

    assert findings_remind(now=at(DEADLINE + dt.timedelta(days=1))) == {"reminded": 0, "overdue": 1}
    assert findings_remind(now=at(DEADLINE + dt.timedelta(days=5))) == {"reminded": 0, "overdue": 0}

    overdue = actions(due, "supervision.finding.overdue").get()
    assert overdue.payload == {"deadline": "2027-06-18", "days_late": 1, "status": "assigned"}
    assert overdue.subject_organization == producer and overdue.division_code == "320602"
    told = set(
        Notification.objects.filter(kind="supervision.finding_overdue").values_list("organization", flat=True)
    )
    assert told == {producer.pk, regulator.current_membership.organization_id}
    # Overdue does not mean reminded: no reminder goes out after the deadline.
    assert not reminders(due).exists()


@pytest.mark.parametrize("state", ["rectification_submitted", "verified", "closed"])
def test_no_reminder_or_overdue_once_the_rectification_is_in(due, walk, state):
    walk(due, state)

    assert findings_remind(now=at(DEADLINE - dt.timedelta(days=1))) == {"reminded": 0, "overdue": 0}
    assert findings_remind(now=at(DEADLINE + dt.timedelta(days=1))) == {"reminded": 0, "overdue": 0}


def test_a_moved_deadline_earns_a_new_reminder_and_overdue_mark(due, regulator):
    findings_remind(now=at(DEADLINE - dt.timedelta(days=1)))
    findings_remind(now=at(DEADLINE + dt.timedelta(days=1)))
    later = DEADLINE + dt.timedelta(days=14)
    finding_assign(actor=regulator, finding_id=due.pk, assigned_to_id=regulator.pk, deadline=later)

    assert findings_remind(now=at(later - dt.timedelta(days=2))) == {"reminded": 1, "overdue": 0}
    assert findings_remind(now=at(later + dt.timedelta(days=1))) == {"reminded": 0, "overdue": 1}
    assert reminders(due).count() == 2
    assert actions(due, "supervision.finding.overdue").count() == 2


def test_a_finding_without_a_deadline_is_left_alone(due):
    Finding.objects.filter(pk=due.pk).update(deadline=None)

    assert findings_remind(now=at(DEADLINE)) == {"reminded": 0, "overdue": 0}


def test_the_upkeep_command_runs_the_sweep_and_reports_it_as_json(finding):
    Finding.objects.filter(pk=finding.pk).update(deadline=timezone.localdate() + dt.timedelta(days=2))
    out = io.StringIO()

    call_command("supervision_maintain", stdout=out)
    call_command("supervision_maintain", stdout=out)

    first, again = (json.loads(line) for line in out.getvalue().splitlines())
    # Each finding check reports under its rule code too (tests/supervision/checks).
    assert {"at", "findings"} <= set(first)
    assert first["findings"] == {"reminded": 1, "overdue": 0}
    assert again["findings"] == {"reminded": 0, "overdue": 0}
