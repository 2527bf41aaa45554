"""Findings: raised by the platform's sweeps (idempotent per rule and object), then followed up by the
bureau and the organisation concerned — assigned, rectified, verified, closed or dismissed — with a
reminder before the deadline and an overdue mark after it.

Each step locks the finding, checks who acts (403) and from which state (409), validates its input
(400, naming the field), writes the change and its audit event in one transaction, and tells whoever
must act next.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from greenisle.accounts.permissions import acting_for, membership_of
from greenisle.audit.services import event_record, transition_apply
from greenisle.core.errors import Conflict, NotFound, PermissionDenied, ServiceError
from greenisle.notifications.services import notify
from greenisle.organizations.identifiers import division_prefix
from greenisle.supervision import rules
from greenisle.supervision.choices import AWAITING_RECTIFICATION, FindingStatus
from greenisle.supervision.models import Finding
from greenisle.supervision.transitions import FINDING_TRANSITIONS

# Who of a bureau follows findings up.
REGULATOR_ROLES = {"admin", "inspector"}
# Who of the owner organisation answers for it (anyone but a driver), and of its collector.
OWNER_ROLES = {"admin", "clerk", "dispatcher", "receiver", "inspector"}
COLLECTOR_ROLES = {"admin", "clerk", "dispatcher"}
TEXT_LIMIT = 2000
NOTE_LIMIT = 500


# --- raising --------------------------------------------------------------------------------------


def _bureau_of(division_code: str) -> Any:
    """The bureau responsible for a division: its district branch, else the city's, else the province's."""
    from greenisle.organizations.models import Organization

    codes = [division_code, f"{division_code[:4]}00", f"{division_code[:2]}0000"]
    found: dict[str, Any] = {}
    for org in Organization.objects.filter(kind="regulator", division_id__in=codes).order_by("created_at"):
        found.setdefault(org.division_id, org)
    return next((found[c] for c in codes if c in found), None)


def _owner_for(info: rules.RuleInfo, organization: Any, division_code: str) -> Any:
    if info.owner == rules.OWNER_REGULATOR:
        # A rule the bureau follows up itself; where no bureau is registered, the unit answers.
        return _bureau_of(division_code) or organization
    return organization


def _earlier_closed(rule: str, object_type: str, object_id: str, organization: Any) -> Finding | None:
    """The most recent closed finding on the same rule and object, or the same rule and organisation."""
    return (
        Finding.objects.filter(rule=rule, status=FindingStatus.CLOSED)
        .filter(Q(object_type=object_type, object_id=object_id) | Q(organization=organization))
        .order_by("-created_at", "-pk")
        .first()
    )


def finding_raise(
    *,
    rule: str,
    organization: Any,
    division_code: str,
    obj: Any,
    message: str,
    evidence: dict[str, Any] | None = None,
    severity: str | None = None,
    today: dt.date | None = None,
) -> Finding | None:
    """Open a finding for ``rule`` on ``obj`` unless one is being followed up already (open, assigned,
    rectification submitted or verified). Returns the new finding or None. The rule must be in the
    registry (``rules.py``, else ``UnknownRule``): it gives the default severity, who must rectify and
    the deadline, counted from ``today``. A finding raised again after an earlier one on the same rule
    and object (or organisation) was closed is linked to it as a repeat. Call inside the caller's
    transaction."""
    info = rules.rule_info(rule)
    object_type = f"{obj._meta.app_label}.{obj._meta.model_name}"
    object_id = str(obj.pk)
    if Finding.objects.active().filter(rule=rule, object_type=object_type, object_id=object_id).exists():
        return None
    day = today or timezone.localdate()
    owner = _owner_for(info, organization, division_code)
    repeat_of = _earlier_closed(rule, object_type, object_id, organization)
    grade = str(severity or info.severity)
    try:
        with transaction.atomic():
            finding = Finding.objects.create(
                rule=rule,
                severity=grade,
                organization=organization,
                owner_organization=owner,
                division_code=division_code,
                object_type=object_type,
                object_id=object_id,
                message=message,
                evidence=evidence or {},
                deadline=info.deadline_from(day),
                repeat_of=repeat_of,
            )
    except IntegrityError:  # raised by a concurrent sweep
        return None
    event_record(
        action="supervision.finding.raised",
        obj=finding,
        actor=None,
        organization=None,
        subject_organization=organization,
        division_code=division_code,
        payload={
            "rule": rule,
            "severity": grade,
            "object": f"{object_type}:{object_id}",
            "message": message,
            "owner": str(owner.pk),
            "deadline": finding.deadline.isoformat() if finding.deadline else None,
            "repeat_of": str(repeat_of.pk) if repeat_of else None,
        },
    )
    return finding


# --- following up ---------------------------------------------------------------------------------


def _locked(finding_id: Any) -> Finding:
    finding = (
        Finding.objects.select_for_update(of=("self",))
        .select_related("organization", "owner_organization")
        .filter(pk=finding_id)
        .first()
    )
    if finding is None:
        raise NotFound("问题不存在 / no such finding", field="finding_id")
    return finding


def _covers(regulator: Any, finding: Finding) -> bool:
    return finding.division_code.startswith(division_prefix(regulator.division_id))


def _require_regulator(actor: Any, finding: Finding) -> Any:
    """The actor's membership if it is an inspector or admin of a bureau covering the finding's division
    (its district branch or the city bureau above it)."""
    membership = membership_of(actor)
    org = membership.organization
    if org.kind != "regulator" or membership.role not in REGULATOR_ROLES:
        raise PermissionDenied("只有生态环境部门可以跟进问题 / only the bureau follows findings up")
    if not _covers(org, finding):
        raise PermissionDenied("该问题不在您的辖区 / the finding is outside your division")
    return membership


def _require_state(finding: Finding, target: str, sources: tuple[str, ...], what: tuple[str, str]) -> None:
    """Refuse (409, naming the state) a step the table does not allow from the finding's state."""
    if finding.status not in sources or FINDING_TRANSITIONS.row(finding.status, target) is None:
        zh, en = what
        raise Conflict(
            f"问题当前状态为 {finding.status}，不能{zh} / a finding that is {finding.status} cannot be {en}",
            field="status",
            code="transition_not_allowed",
        )


def _text(value: Any, field: str, *, limit: int, required: bool, what: str) -> str:
    text = str(value or "").strip()
    if "\x00" in text:  # PostgreSQL cannot store it: a clear refusal rather than a server error
        raise ServiceError(f"{field}: 不允许包含NUL字符 / must not contain NUL characters", field=field)
    if required and not text:
        raise ServiceError(f"须填写{what} / {field} is required", field=field)
    if len(text) > limit:
        raise ServiceError(f"{what}不超过{limit}字 / {field}: at most {limit} characters", field=field)
    return text


def _deadline(value: dt.date | None) -> dt.date | None:
    if value is not None and value < timezone.localdate():
        raise ServiceError("整改期限不能早于今天 / the deadline is in the past", field="deadline")
    return value


def _assignee(user_id: Any, finding: Finding) -> tuple[Any, Any]:
    """The inspector (and their bureau) a finding may be assigned to: an active person who is an
    inspector or admin of a bureau covering the finding's division."""
    from greenisle.accounts.models import Membership

    if user_id in (None, ""):
        raise ServiceError("须指定监管人员 / assigned_to is required", field="assigned_to")
    memberships = Membership.objects.filter(
        user_id=user_id, user__is_active=True, organization__kind="regulator", role__in=REGULATOR_ROLES
    ).select_related("user", "organization")
    for membership in memberships:
        if _covers(membership.organization, finding):
            return membership.user, membership.organization
    raise ServiceError(
        "须指派给辖区生态环境部门的监管人员 / assign to an inspector of a bureau covering the finding",
        field="assigned_to",
    )


def _assignee_bureau(finding: Finding) -> Any:
    """Where to tell the inspector following the finding: their bureau, else the division's."""
    if finding.assigned_to_id is not None:
        try:
            return _assignee(finding.assigned_to_id, finding)[1]
        except ServiceError:
            pass  # no longer an inspector there: the division's bureau takes it
    return _bureau_of(finding.division_code)


def _title(finding: Finding) -> str:
    return rules.rule_info(finding.rule).title_zh if finding.rule in rules.RULES else finding.rule


def _stamp(at: dt.datetime) -> str:
    return f"{at:%Y%m%d%H%M%S%f}"


def _apply(
    finding: Finding,
    *,
    target: str,
    role: str,
    actor: Any,
    membership: Any,
    payload: dict[str, Any],
    extra_fields: dict[str, Any],
) -> None:
    transition_apply(
        table=FINDING_TRANSITIONS,
        obj=finding,
        target=target,
        role=role,
        actor=actor,
        organization=membership.organization,
        subject_organization=finding.organization,
        division_code=finding.division_code,
        payload={"rule": finding.rule, **payload},
        extra_fields=extra_fields,
    )


def _new_deadline_fields(finding: Finding, deadline: dt.date | None) -> dict[str, Any]:
    """A moved deadline earns a new reminder and, if missed, a new overdue mark."""
    if deadline is None or deadline == finding.deadline:
        return {}
    return {"deadline": deadline, "reminder_sent_at": None, "overdue_at": None}


@transaction.atomic
def finding_assign(
    *, actor: Any, finding_id: Any, assigned_to_id: Any, deadline: dt.date | None = None
) -> Finding:
    """The bureau names the inspector who follows the finding up (again, to hand it over), and may set
    the rectification deadline. The owner organisation is told."""
    finding = _locked(finding_id)
    membership = _require_regulator(actor, finding)
    _require_state(
        finding,
        FindingStatus.ASSIGNED,
        (FindingStatus.OPEN, FindingStatus.ASSIGNED),
        ("指派", "assigned"),
    )
    assignee, bureau = _assignee(assigned_to_id, finding)
    deadline = _deadline(deadline)
    previous = finding.assigned_to_id
    effective = deadline or finding.deadline
    now = timezone.now()
    extra = {"assigned_to": assignee, "assigned_by": actor, "assigned_at": now}
    extra.update(_new_deadline_fields(finding, deadline))
    finding.assigned_to = assignee
    _apply(
        finding,
        target=FindingStatus.ASSIGNED,
        role="regulator",
        actor=actor,
        membership=membership,
        payload={
            "assigned_to": assignee.pk,
            "assigned_to_name": str(assignee),
            "bureau": str(bureau.pk),
            "previous_assignee": previous,
            "deadline": effective.isoformat() if effective else None,
        },
        extra_fields=extra,
    )
    due = f"，整改期限 {finding.deadline}" if finding.deadline else ""
    due_en = f", rectify by {finding.deadline}" if finding.deadline else ""
    notify(
        organization=finding.owner_organization,
        kind="supervision.finding_assigned",
        message=(
            f"监管问题「{_title(finding)}」已由 {assignee} 跟进{due} / finding {finding.rule} is followed "
            f"up by {assignee}{due_en}: {finding.message}"
        )[:500],
        obj=finding,
        key=f"supervision.finding_assigned:{finding.pk}:{_stamp(now)}",
    )
    return finding


@transaction.atomic
def finding_rectify(*, actor: Any, finding_id: Any, rectification: str) -> Finding:
    """The owner organisation (or its collector, for a small producer) says what it did to put the breach
    right. The inspector following the finding is told."""
    finding = _locked(finding_id)
    membership = membership_of(actor)
    acting = acting_for(
        membership,
        finding.owner_organization_id,
        own_roles=OWNER_ROLES,
        collector_roles=COLLECTOR_ROLES,
        what="提交整改",
    )
    role = "collector" if acting == "collector" else "owner"
    _require_state(
        finding,
        FindingStatus.RECTIFICATION_SUBMITTED,
        (FindingStatus.ASSIGNED,),
        ("提交整改", "rectified"),
    )
    text = _text(rectification, "rectification", limit=TEXT_LIMIT, required=True, what="整改情况")
    now = timezone.now()
    finding.rectification = text
    _apply(
        finding,
        target=FindingStatus.RECTIFICATION_SUBMITTED,
        role=role,
        actor=actor,
        membership=membership,
        payload={"rectification": text, "on_behalf": role == "collector"},
        extra_fields={
            "rectification": text,
            "rectification_submitted_at": now,
            "rectification_submitted_by": actor,
        },
    )
    bureau = _assignee_bureau(finding)
    if bureau is not None:
        notify(
            organization=bureau,
            kind="supervision.rectification_submitted",
            message=(
                f"{finding.owner_organization.name} 已提交「{_title(finding)}」的整改，请 {finding.assigned_to} 核查 / "
                f"rectification of finding {finding.rule} submitted: for {finding.assigned_to} to verify"
            )[:500],
            obj=finding,
            key=f"supervision.rectification_submitted:{finding.pk}:{_stamp(now)}",
        )
    return finding


@transaction.atomic
def finding_verify(
    *, actor: Any, finding_id: Any, decision: str, note: str = "", deadline: dt.date | None = None
) -> Finding:
    """The bureau checks a submitted rectification: ``accept`` (verified) or ``reject`` (back to the
    owner, with the reasons and optionally a new deadline)."""
    target = {"accept": FindingStatus.VERIFIED, "reject": FindingStatus.ASSIGNED}.get(decision)
    if target is None:
        raise ServiceError("结论须为 accept 或 reject / decision is accept or reject", field="decision")
    finding = _locked(finding_id)
    membership = _require_regulator(actor, finding)
    what = ("核查", "verified") if decision == "accept" else ("退回整改", "sent back")
    _require_state(finding, target, (FindingStatus.RECTIFICATION_SUBMITTED,), what)
    note = _text(note, "note", limit=NOTE_LIMIT, required=decision == "reject", what="核查意见")
    now = timezone.now()
    finding.verification_note = note
    if decision == "accept":
        extra: dict[str, Any] = {"verification_note": note, "verified_at": now, "verified_by": actor}
    else:
        extra = {"verification_note": note, **_new_deadline_fields(finding, _deadline(deadline))}
    _apply(
        finding,
        target=target,
        role="regulator",
        actor=actor,
        membership=membership,
        payload={"decision": decision, "note": note, **({"deadline": str(deadline)} if deadline else {})},
        extra_fields=extra,
    )
    if decision == "reject":
        notify(
            organization=finding.owner_organization,
            kind="supervision.rectification_rejected",
            message=(
                f"「{_title(finding)}」的整改未通过核查：{note} / the rectification of finding {finding.rule} "
                f"was sent back: {note}"
            )[:500],
            obj=finding,
            key=f"supervision.rectification_rejected:{finding.pk}:{_stamp(now)}",
        )
    return finding


@transaction.atomic
def finding_close(*, actor: Any, finding_id: Any, note: str = "") -> Finding:
    """The bureau closes a verified finding (销号)."""
    finding = _locked(finding_id)
    membership = _require_regulator(actor, finding)
    _require_state(finding, FindingStatus.CLOSED, (FindingStatus.VERIFIED,), ("关闭", "closed"))
    note = _text(note, "note", limit=NOTE_LIMIT, required=False, what="备注")
    now = timezone.now()
    _apply(
        finding,
        target=FindingStatus.CLOSED,
        role="regulator",
        actor=actor,
        membership=membership,
        payload={"note": note},
        extra_fields={"closed_at": now, "closed_by": actor},
    )
    notify(
        organization=finding.owner_organization,
        kind="supervision.finding_closed",
        message=f"监管问题「{_title(finding)}」已整改销号 / finding {finding.rule} is closed"[:500],
        obj=finding,
        key=f"supervision.finding_closed:{finding.pk}",
    )
    return finding


@transaction.atomic
def finding_dismiss(*, actor: Any, finding_id: Any, reason: str) -> Finding:
    """The bureau dismisses a finding raised in error (wrong data, an exemption applies), with the reason,
    any time before the rectification is verified."""
    finding = _locked(finding_id)
    membership = _require_regulator(actor, finding)
    _require_state(
        finding,
        FindingStatus.DISMISSED,
        (FindingStatus.OPEN, FindingStatus.ASSIGNED, FindingStatus.RECTIFICATION_SUBMITTED),
        ("撤销", "dismissed"),
    )
    reason = _text(reason, "reason", limit=NOTE_LIMIT, required=True, what="撤销理由")
    now = timezone.now()
    finding.dismissed_reason = reason
    _apply(
        finding,
        target=FindingStatus.DISMISSED,
        role="regulator",
        actor=actor,
        membership=membership,
        payload={"reason": reason},
        extra_fields={"dismissed_reason": reason, "dismissed_at": now, "dismissed_by": actor},
    )
    notify(
        organization=finding.owner_organization,
        kind="supervision.finding_dismissed",
        message=(
            f"监管问题「{_title(finding)}」已撤销：{reason} / finding {finding.rule} is dismissed: {reason}"
        )[:500],
        obj=finding,
        key=f"supervision.finding_dismissed:{finding.pk}",
    )
    return finding


# --- deadlines ------------------------------------------------------------------------------------


def _remind(finding: Finding, at: dt.datetime, today: dt.date) -> None:
    assert finding.deadline is not None
    days_left = (finding.deadline - today).days
    notify(
        organization=finding.owner_organization,
        kind="supervision.finding_due",
        message=(
            f"监管问题「{_title(finding)}」须于 {finding.deadline} 前整改（还剩 {days_left} 天）/ finding "
            f"{finding.rule} is to be rectified by {finding.deadline} ({days_left} days left)"
        )[:500],
        obj=finding,
        key=f"supervision.finding_due:{finding.pk}:{finding.deadline}",
    )
    finding.reminder_sent_at = at
    finding.save(update_fields=["reminder_sent_at", "updated_at"])
    event_record(
        action="supervision.finding.reminded",
        obj=finding,
        subject_organization=finding.organization,
        division_code=finding.division_code,
        payload={"deadline": finding.deadline.isoformat(), "days_left": days_left},
    )


def _mark_overdue(finding: Finding, at: dt.datetime, today: dt.date) -> None:
    assert finding.deadline is not None
    days_late = (today - finding.deadline).days
    finding.overdue_at = at
    finding.save(update_fields=["overdue_at", "updated_at"])
    event_record(
        action="supervision.finding.overdue",
        obj=finding,
        subject_organization=finding.organization,
        division_code=finding.division_code,
        payload={"deadline": finding.deadline.isoformat(), "days_late": days_late, "status": finding.status},
    )
    message = (
        f"监管问题「{_title(finding)}」已超过整改期限 {finding.deadline} / finding {finding.rule} is past its "
        f"rectification deadline {finding.deadline}"
    )[:500]
    recipients = [finding.owner_organization, _assignee_bureau(finding)]
    for organization in {o.pk: o for o in recipients if o is not None}.values():
        notify(
            organization=organization,
            kind="supervision.finding_overdue",
            message=message,
            obj=finding,
            key=f"supervision.finding_overdue:{finding.pk}:{finding.deadline}",
        )


def findings_remind(*, now: dt.datetime | None = None) -> dict[str, int]:
    """Remind the owner of each finding still awaiting its rectification whose deadline falls within
    ``FINDING_REMINDER_DAYS`` days (once per deadline), and mark each one past its deadline overdue
    (once: an audit event ``supervision.finding.overdue``, the owner and the bureau told). Each finding
    in its own transaction."""
    at = now or timezone.now()
    today = timezone.localtime(at).date()
    horizon = today + dt.timedelta(days=int(settings.GREENISLE.get("FINDING_REMINDER_DAYS", 3)))
    counts = {"reminded": 0, "overdue": 0}
    due = (
        Finding.objects.filter(status__in=AWAITING_RECTIFICATION, deadline__isnull=False)
        .filter(
            Q(reminder_sent_at__isnull=True, deadline__gte=today, deadline__lte=horizon)
            | Q(overdue_at__isnull=True, deadline__lt=today)
        )
        .order_by("deadline", "pk")
        .values_list("pk", flat=True)
    )
    for pk in list(due):
        with transaction.atomic():
            finding = (
                Finding.objects.select_for_update(of=("self",))
                .select_related("organization", "owner_organization")
                .filter(pk=pk, status__in=AWAITING_RECTIFICATION, deadline__isnull=False)
                .first()
            )
            if finding is None or finding.deadline is None:
                continue  # followed up meanwhile
            if finding.deadline < today:
                if finding.overdue_at is None:
                    _mark_overdue(finding, at, today)
                    counts["overdue"] += 1
            elif finding.deadline <= horizon and finding.reminder_sent_at is None:
                _remind(finding, at, today)
                counts["reminded"] += 1
    return counts
