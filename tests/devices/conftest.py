"""Fixtures for provisioning: the collector's administrator, and a second client with two sites."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

# JSON clients as a person, shared with the API tests.
from api.conftest import api_as  # noqa: F401
from factories import ProducerFactory, ServiceContractFactory, SiteFactory, division

from greenisle.accounts.choices import Role
from greenisle.accounts.models import User
from greenisle.organizations.models import Organization, Site


@pytest.fixture
def admin(world: Any, make_member: Callable[..., User]) -> User:
    """The collector's administrator: the one person who provisions its bins."""
    return make_member(world.collector, Role.ADMIN, "admin", "林管理")


@pytest.fixture
def rival_admin(collector_b: Organization, make_member: Callable[..., User]) -> User:
    return make_member(collector_b, Role.ADMIN, "rival_admin", "如皋管理")


@pytest.fixture
def client_b(world: Any) -> Organization:
    """A second client of the collector: a machinery workshop with two sites."""
    org = ProducerFactory(name="通州某机械加工厂", division=division("320612"), industry="机械加工")
    ServiceContractFactory(collector=world.collector, producer=org)
    return org


@pytest.fixture
def client_b_sites(client_b: Organization) -> tuple[Site, Site]:
    return (
        SiteFactory(organization=client_b, name="一号车间", address="南通市通州区金沙路1号"),
        SiteFactory(organization=client_b, name="二号车间", address="南通市通州区金沙路2号"),
    )
