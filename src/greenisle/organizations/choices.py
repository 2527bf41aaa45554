from django.db import models
from django.utils.translation import gettext_lazy as _


class OrganizationKind(models.TextChoices):
    PRODUCER = "producer", _("Producer")
    COLLECTOR = "collector", _("Collector")
    CARRIER = "carrier", _("Carrier")
    FACILITY = "facility", _("Facility")
    REGULATOR = "regulator", _("Regulator")


class LicenceType(models.TextChoices):
    COLLECTION = "collection", _("Collection licence")
    COMPREHENSIVE = "comprehensive", _("Comprehensive licence")
    UTILISATION = "utilisation", _("Utilisation licence")
    DISPOSAL = "disposal", _("Disposal licence")
    DANGEROUS_GOODS_TRANSPORT = "dg_transport", _("Dangerous goods road transport permit")
