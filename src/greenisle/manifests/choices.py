from django.db import models
from django.utils.translation import gettext_lazy as _


class ManifestStatus(models.TextChoices):
    DRAFT = "draft", _("Draft")
    PRODUCER_SIGNED = "producer_signed", _("Signed by producer")
    IN_TRANSIT = "in_transit", _("In transit")
    DELIVERED = "delivered", _("Delivered")
    RECEIVED = "received", _("Received")
    TREATED = "treated", _("Treatment recorded")
    CANCELLED = "cancelled", _("Cancelled")


class ManifestKind(models.TextChoices):
    # A small producer's waste collected on a round (办法 Art. 16).
    COLLECTION = "collection", _("Collection round")
    # From the collector's warehouse to a facility: the collector is the 移出人 (办法 Art. 31).
    ONWARD = "onward", _("Onward transfer")


class SignatureMethod(models.TextChoices):
    SESSION = "session", _("Signed while logged in")
    CODE = "code", _("Signature code on the driver's phone")
    DELEGATED = "delegated", _("Signed by the collector under delegation")


class LineDecision(models.TextChoices):
    ACCEPTED = "accepted", _("Accepted")
    PARTLY_ACCEPTED = "partly_accepted", _("Partly accepted")
    REJECTED = "rejected", _("Rejected")


class ReceiptOutcome(models.TextChoices):
    ACCEPTED = "accepted", _("Accepted")
    PARTLY_ACCEPTED = "partly_accepted", _("Partly accepted")
    REJECTED = "rejected", _("Rejected")


class Discrepancy(models.TextChoices):
    """办法 Art. 18: what may differ between the manifest and what arrives."""

    NAME = "name", _("Name or code")
    QUANTITY = "quantity", _("Quantity")
    CHARACTERISTICS = "characteristics", _("Hazard characteristics")
    FORM = "form", _("Physical form")
    PACKAGING = "packaging", _("Packaging")


class CorrectionStatus(models.TextChoices):
    OPEN = "open", _("Open")
    APPLIED = "applied", _("Applied")
    REJECTED = "rejected", _("Rejected")
    WITHDRAWN = "withdrawn", _("Withdrawn")


class WasteForm(models.TextChoices):
    """HJ 1276-2022 label: physical form."""

    SOLID = "solid", _("Solid")
    SEMI_SOLID = "semi_solid", _("Semi-solid")
    LIQUID = "liquid", _("Liquid")
    GAS = "gas", _("Gas")


class LoadingRefusalReason(models.TextChoices):
    """办法 Art. 13: why a container was not loaded."""

    UNKNOWN_LABEL = "unknown_label", _("Label not known")
    OTHER_PRODUCER = "other_producer", _("Label of another producer")
    WASTE_CODE = "waste_code", _("Waste code the bin does not hold")
    WEIGHT = "weight", _("Weight beyond tolerance")
    ALREADY_LOADED = "already_loaded", _("Container already on a manifest")
