from decimal import Decimal
from typing import Any

from django import forms
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


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
    def __init__(self, *args: Any, lines: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for line in lines:
            self.fields[f"line_{line.pk}"] = forms.DecimalField(
                label=f"{line.container_code} · {line.waste_code.code}",
                min_value=Decimal("0.01"),
                max_value=Decimal("100000"),
                decimal_places=2,
                initial=line.weight_kg,
            )

    def weights(self) -> dict[str, Decimal]:
        return {name.removeprefix("line_"): value for name, value in self.cleaned_data.items()}
