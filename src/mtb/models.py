"""Every ORM model, imported in one place so Alembic and the tests see the whole schema."""

from mtb.catalog.models import CatalogVersion
from mtb.db import Base
from mtb.identity.models import InsuredPerson, LoginThrottle, StaffUser

__all__ = ["Base", "CatalogVersion", "InsuredPerson", "LoginThrottle", "StaffUser"]
