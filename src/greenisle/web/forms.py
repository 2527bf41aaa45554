import datetime as dt
from decimal import Decimal
from typing import Any

from django import forms
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from greenisle.devices.models import CrcMode, Transport


class AssignForm(forms.Form):
    request_ids = forms.MultipleChoiceField(label=_("Pickup requests"), widget=forms.CheckboxSelectMultiple)
    vehicle_id = forms.ChoiceField(label=_("Vehicle"))
    driver_id = forms.ChoiceField(label=_("Driver"))
    # <input type="date"> takes ISO dates only; the zh-hans locale's first input format (2026/11/22) would
    # leave it empty, and the browser then refuses to submit the form.
    service_date = forms.DateField(
        label=_("Date"), widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")
    )

    def __init__(self, *args: Any, requests: Any, vehicles: Any, drivers: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["request_ids"].choices = [(str(r.pk), str(r.pk)) for r in requests]
        self.fields["vehicle_id"].choices = [(str(v.pk), v.plate) for v in vehicles]
        self.fields["driver_id"].choices = [(str(d.pk), f"{d} ({d.username})") for d in drivers]
        self.fields["service_date"].initial = timezone.localdate()


class ContainerForm(forms.Form):
    request_id = forms.UUIDField(widget=forms.HiddenInput)
    waste_code = forms.ChoiceField(label=_("Waste code"))
    container_code = forms.CharField(label=_("Container code"), max_length=64)
    weight_kg = forms.DecimalField(
        label=_("Weight (kg)"), min_value=Decimal("0.01"), max_value=Decimal("100000"), decimal_places=2
    )

    def __init__(self, *args: Any, waste_codes: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["waste_code"].choices = [(c.code, f"{c.code} {c.short_name}") for c in waste_codes]


class SignatureCodeForm(forms.Form):
    signature_code = forms.CharField(
        label=_("Producer's signature code"), max_length=64, widget=forms.PasswordInput
    )


class ReceiveForm(forms.Form):
    """Per line: received weight, discrepancies (办法 Art. 18), decision and, when partly accepted,
    the accepted weight. The service decides what is valid and names the line's field at fault."""

    def __init__(self, *args: Any, lines: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        from greenisle.manifests.choices import Discrepancy, LineDecision

        self.line_ids = [line.pk for line in lines]
        for line in lines:
            p = f"line_{line.pk}"
            self.fields[f"{p}_weight"] = forms.DecimalField(
                label=_("Received weight (kg)"),
                min_value=Decimal("0.01"),
                max_value=Decimal("100000"),
                decimal_places=2,
                initial=line.weight_kg,
            )
            self.fields[f"{p}_discrepancies"] = forms.MultipleChoiceField(
                label=_("Discrepancies"),
                choices=Discrepancy.choices,
                required=False,
                widget=forms.CheckboxSelectMultiple,
            )
            self.fields[f"{p}_decision"] = forms.ChoiceField(
                label=_("Decision"),
                choices=[("", _("Accept (no discrepancy)")), *LineDecision.choices],
                required=False,
            )
            self.fields[f"{p}_accepted"] = forms.DecimalField(
                label=_("Accepted weight (kg)"),
                min_value=Decimal("0.01"),
                max_value=Decimal("100000"),
                decimal_places=2,
                required=False,
            )
            self.fields[f"{p}_note"] = forms.CharField(label=_("Note"), max_length=300, required=False)

    def rows(self, lines: Any) -> list[dict[str, Any]]:
        return [
            {
                "line": line,
                "fields": [
                    self[f"line_{line.pk}_{n}"]
                    for n in ("weight", "discrepancies", "decision", "accepted", "note")
                ],
            }
            for line in lines
        ]

    def receipts(self) -> dict[str, dict[str, Any]]:
        data = self.cleaned_data
        return {
            str(pk): {
                "received_weight_kg": data[f"line_{pk}_weight"],
                "discrepancies": data[f"line_{pk}_discrepancies"],
                "decision": data[f"line_{pk}_decision"],
                "accepted_weight_kg": data[f"line_{pk}_accepted"],
                "note": data[f"line_{pk}_note"],
            }
            for pk in self.line_ids
        }


class BinForm(forms.Form):
    """A bin's settings. The service checks them again and names the field at fault; this form only gives
    the browser the right inputs. On a change the serial is fixed and a blank PW keeps the current one."""

    serial = forms.CharField(label=_("Serial number"), max_length=64)
    name = forms.CharField(label=_("Name"), max_length=100)
    site = forms.ChoiceField(label=_("Site"))
    capacity_l = forms.IntegerField(label=_("Capacity (L)"), min_value=1, max_value=100_000)
    capacity_kg = forms.DecimalField(
        label=_("Capacity (kg)"), min_value=Decimal("0.01"), max_value=Decimal("100000"), decimal_places=2
    )
    waste_codes = forms.CharField(
        label=_("Waste codes"),
        max_length=1000,
        help_text=_("Codes of the catalogue in force, separated by ; or , (e.g. 900-214-08; 900-041-49)"),
    )
    threshold_pct = forms.DecimalField(
        label=_("Threshold (%)"), min_value=1, max_value=100, decimal_places=2, initial=80
    )
    reporting_interval_s = forms.IntegerField(
        label=_("Reporting interval (s)"), min_value=30, max_value=86400, initial=900
    )
    transport = forms.ChoiceField(
        label=pgettext_lazy("device", "Transport"), choices=Transport.choices, initial=Transport.HTTP
    )
    mqtt_username = forms.CharField(
        label=_("MQTT username"),
        max_length=64,
        required=False,
        help_text=_("Required for MQTT; a password is generated for it."),
    )
    hj212_mn = forms.CharField(
        label=_("HJ 212 MN"), max_length=64, required=False, help_text=_("Required for HJ 212.")
    )
    hj212_pw = forms.CharField(
        label=_("HJ 212 PW"),
        max_length=64,
        required=False,
        widget=forms.PasswordInput(render_value=False),
        help_text=_("The PW configured on the data logger."),
    )
    hj212_crc_mode = forms.ChoiceField(label=_("HJ 212 CRC variant"), choices=CrcMode.choices)
    enabled = forms.BooleanField(label=_("Enabled"), required=False, initial=True)

    def __init__(self, *args: Any, sites: Any, instance: Any = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.instance = instance
        choices = [(str(s.pk), f"{s.organization.name} · {s.name}") for s in sites]
        if instance is not None:
            del self.fields["serial"]
            if str(instance.site_id) not in {c for c, _label in choices}:
                site = instance.site
                choices.insert(0, (str(site.pk), f"{site.organization.name} · {site.name}"))
            self.fields["hj212_pw"].help_text = _("Leave blank to keep the current PW.")
            self.initial.update(
                {
                    "name": instance.name,
                    "site": str(instance.site_id),
                    "capacity_l": instance.capacity_l,
                    "capacity_kg": instance.capacity_kg,
                    "waste_codes": "; ".join(c.code for c in instance.waste_codes.all()),
                    "threshold_pct": instance.threshold_pct,
                    "reporting_interval_s": instance.reporting_interval_s,
                    "transport": instance.transport,
                    "mqtt_username": instance.mqtt_username or "",
                    "hj212_mn": instance.hj212_mn or "",
                    "hj212_crc_mode": instance.hj212_crc_mode,
                    "enabled": instance.enabled,
                }
            )
        self.fields["site"].choices = [("", "—"), *choices]

    def service_values(self) -> dict[str, Any]:
        """The cleaned values as the provisioning services take them."""
        data = dict(self.cleaned_data)
        data["mqtt_username"] = data.get("mqtt_username") or None
        data["hj212_mn"] = data.get("hj212_mn") or None
        if not data.get("hj212_pw"):
            data.pop("hj212_pw", None)
            if self.instance is None:
                data["hj212_pw"] = None
        return data


class RotateCredentialsForm(forms.Form):
    http_key = forms.BooleanField(label=_("HTTP device key"), required=False, initial=True)
    mqtt_password = forms.BooleanField(label=_("MQTT password"), required=False, initial=True)


class BinImportForm(forms.Form):
    file = forms.FileField(label=_("CSV or Excel (.xlsx) file"))
    dry_run = forms.BooleanField(
        label=_("Dry run: check every row, write nothing"), required=False, initial=True
    )


class PlanRequestForm(forms.Form):
    service_date = forms.DateField(
        label=_("Date"), widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")
    )
    seconds = forms.IntegerField(label=_("Search time (s)"), min_value=1, max_value=600)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        from django.conf import settings

        self.fields["service_date"].initial = timezone.localdate() + dt.timedelta(days=1)
        self.fields["seconds"].initial = settings.GREENISLE["PLANNING_SECONDS"]


class MoveStopForm(forms.Form):
    stop = forms.CharField(label=_("Stop"), max_length=80)
    vehicle = forms.CharField(label=_("Route"), max_length=80)
    position = forms.IntegerField(label=_("Position"), min_value=1, max_value=10000)
