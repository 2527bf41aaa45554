"""factory_boy factories for the registry, devices, dispatch, manifests and ledger.

Divisions and catalogue codes are not invented here: they come from the data migrations
(GB/T 2260 codes for Nantong, the 2021 名录), as they do in production.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import factory
from django.utils import timezone
from factory.django import DjangoModelFactory

from greenisle.accounts.choices import Role
from greenisle.accounts.models import Membership, User
from greenisle.catalog.models import WasteCode
from greenisle.devices.models import Bin
from greenisle.dispatch.choices import RequestOrigin, RequestStatus
from greenisle.dispatch.models import PickupRequest, Trip, Vehicle
from greenisle.ledger.batch_codes import format_batch_code
from greenisle.ledger.models import LedgerRecord, RecordType
from greenisle.manifests.models import Manifest, ManifestLine
from greenisle.organizations.choices import LicenceType, OrganizationKind
from greenisle.organizations.identifiers import uscc_with_check_digit
from greenisle.organizations.models import Division, Licence, Organization, ServiceContract, Site

DEFAULT_BIN_CODES = ("900-214-08", "900-041-49")


def division(code: str) -> Division:
    """A division loaded by the data migration (320602 崇川区, 320612 通州区, 320600 南通市 …)."""
    return Division.objects.get(code=code)


def waste_code(code: str) -> WasteCode:
    """A code of the catalogue edition in force."""
    return WasteCode.objects.current().get(code=code)


class DivisionFactory(DjangoModelFactory):
    """Returns the migrated row for ``code``; never creates a division the data migration lacks."""

    class Meta:
        model = Division
        django_get_or_create = ("code",)

    code = "320602"


class OrganizationFactory(DjangoModelFactory):
    class Meta:
        model = Organization

    kind = OrganizationKind.PRODUCER
    name = factory.Sequence(lambda n: f"南通测试单位{n}有限公司")
    division = factory.SubFactory(DivisionFactory)
    # 1 (registration authority) + 1 (type) + division (6) + organisation code (9) + GB 32100 check digit.
    uscc = factory.LazyAttributeSequence(lambda o, n: uscc_with_check_digit(f"91{o.division.code}{n:09d}"))
    address = "江苏省南通市"
    contact_name = "联系人"
    contact_phone = "0513-80000000"


class ProducerFactory(OrganizationFactory):
    kind = OrganizationKind.PRODUCER
    name = factory.Sequence(lambda n: f"南通某汽修{n}有限公司")
    industry = "汽车修理与维护"


class CollectorFactory(OrganizationFactory):
    kind = OrganizationKind.COLLECTOR
    name = factory.Sequence(lambda n: f"南通绿岛环保{n}有限公司")
    division = factory.SubFactory(DivisionFactory, code="320612")


class CarrierFactory(OrganizationFactory):
    kind = OrganizationKind.CARRIER
    name = factory.Sequence(lambda n: f"南通危货运输{n}有限公司")


class FacilityFactory(OrganizationFactory):
    kind = OrganizationKind.FACILITY
    name = factory.Sequence(lambda n: f"南通某固废处置{n}中心")
    division = factory.SubFactory(DivisionFactory, code="320623")


class RegulatorFactory(OrganizationFactory):
    kind = OrganizationKind.REGULATOR
    name = factory.LazyAttribute(lambda o: f"{o.division.name}生态环境局")
    uscc = factory.LazyAttributeSequence(lambda o, n: uscc_with_check_digit(f"11{o.division.code}{n:09d}"))


class SiteFactory(DjangoModelFactory):
    class Meta:
        model = Site

    organization = factory.SubFactory(ProducerFactory)
    name = factory.Sequence(lambda n: f"场所{n}")
    address = factory.Sequence(lambda n: f"江苏省南通市某路{n}号")
    latitude = Decimal("32.016000")
    longitude = Decimal("120.864000")
    division = factory.LazyAttribute(lambda o: o.organization.division)


class ServiceContractFactory(DjangoModelFactory):
    class Meta:
        model = ServiceContract

    collector = factory.SubFactory(CollectorFactory)
    producer = factory.SubFactory(ProducerFactory)
    valid_from = dt.date(2025, 1, 1)
    valid_to = None
    delegated_signing = False


class UserFactory(DjangoModelFactory):
    class Meta:
        model = User
        django_get_or_create = ("username",)
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    display_name = factory.LazyAttribute(lambda o: o.username)
    password = factory.django.Password("greenisle-test")


class MembershipFactory(DjangoModelFactory):
    class Meta:
        model = Membership

    user = factory.SubFactory(UserFactory)
    organization = factory.SubFactory(ProducerFactory)
    role = Role.CLERK


class LicenceFactory(DjangoModelFactory):
    class Meta:
        model = Licence
        skip_postgeneration_save = True

    organization = factory.SubFactory(CollectorFactory)
    licence_type = LicenceType.COLLECTION
    number = factory.Sequence(lambda n: f"JS0600SJ{n:04d}")
    annual_capacity_t = Decimal("5000.000")
    valid_from = dt.date(2025, 1, 1)
    valid_to = dt.date(2029, 12, 31)

    @factory.post_generation
    def waste_codes(obj, create, extracted, **kwargs):  # noqa: N805
        if create:
            codes = extracted if extracted is not None else DEFAULT_BIN_CODES
            obj.waste_codes.set([waste_code(c) for c in codes])


class BinFactory(DjangoModelFactory):
    """A smart bin with waste codes from the catalogue in force and an HTTP device key.

    The raw key (shown once by ``rotate_key``) is kept on the instance as ``device_key``.
    """

    class Meta:
        model = Bin
        skip_postgeneration_save = True

    serial = factory.Sequence(lambda n: f"NT-YC-{n:05d}")
    name = factory.Sequence(lambda n: f"云仓{n}号")
    site = factory.SubFactory(SiteFactory)
    collector = factory.SubFactory(CollectorFactory)
    capacity_l = 240
    capacity_kg = Decimal("200.00")
    threshold_pct = Decimal("80.00")

    @factory.post_generation
    def waste_codes(obj, create, extracted, **kwargs):  # noqa: N805
        if create:
            codes = extracted if extracted is not None else DEFAULT_BIN_CODES
            obj.waste_codes.set([waste_code(c) for c in codes])

    @factory.post_generation
    def device_key(obj, create, extracted, **kwargs):  # noqa: N805
        obj.device_key = obj.rotate_key()
        if create:
            obj.save(update_fields=["key_prefix", "key_hash"])


class VehicleFactory(DjangoModelFactory):
    class Meta:
        model = Vehicle

    collector = factory.SubFactory(CollectorFactory)
    plate = factory.Sequence(lambda n: f"苏F{n:05d}危")
    capacity_kg = Decimal("3000.00")
    dg_permit_number = factory.Sequence(lambda n: f"苏交运危{n:06d}")
    dg_permit_valid_to = factory.LazyFunction(lambda: timezone.localdate() + dt.timedelta(days=365))


class PickupRequestFactory(DjangoModelFactory):
    class Meta:
        model = PickupRequest

    bin = factory.SubFactory(BinFactory)
    site = factory.LazyAttribute(lambda o: o.bin.site)
    producer = factory.LazyAttribute(lambda o: o.bin.site.organization)
    collector = factory.LazyAttribute(lambda o: o.bin.collector)
    origin = RequestOrigin.THRESHOLD
    status = RequestStatus.OPEN
    fill_pct_at_open = Decimal("85.00")
    opened_at = factory.LazyFunction(timezone.now)


class TripFactory(DjangoModelFactory):
    class Meta:
        model = Trip

    collector = factory.SubFactory(CollectorFactory)
    vehicle = factory.SubFactory(VehicleFactory, collector=factory.SelfAttribute("..collector"))
    driver = factory.SubFactory(UserFactory)
    service_date = factory.LazyFunction(timezone.localdate)


class ManifestFactory(DjangoModelFactory):
    """A manifest made directly (not through the services), for visibility tests."""

    class Meta:
        model = Manifest

    number = factory.Sequence(lambda n: f"20263206{900000 + n:06d}")
    producer_site = factory.SubFactory(SiteFactory)
    producer = factory.LazyAttribute(lambda o: o.producer_site.organization)
    carrier = factory.SubFactory(CollectorFactory)
    receiver = factory.LazyAttribute(lambda o: o.carrier)


class ManifestLineFactory(DjangoModelFactory):
    class Meta:
        model = ManifestLine

    manifest = factory.SubFactory(ManifestFactory)
    waste_code = factory.LazyFunction(lambda: waste_code("900-214-08"))
    container_code = factory.Sequence(lambda n: f"RQ-{n:04d}")
    weight_kg = Decimal("35.00")


class LedgerRecordFactory(DjangoModelFactory):
    class Meta:
        model = LedgerRecord

    site = factory.SubFactory(SiteFactory)
    organization = factory.LazyAttribute(lambda o: o.site.organization)
    record_type = RecordType.PRODUCTION
    occurred_at = factory.LazyFunction(timezone.now)
    batch_code = factory.LazyAttributeSequence(
        lambda o, n: format_batch_code(o.record_type, timezone.localtime(o.occurred_at).date(), n + 1)
    )
    waste_code = factory.LazyFunction(lambda: waste_code("900-214-08"))
    container_code = factory.Sequence(lambda n: f"RQ-{n:04d}")
    weight_kg = Decimal("35.00")
