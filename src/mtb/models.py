"""Every ORM model, imported in one place so Alembic and the tests see the whole schema."""

from mtb.applications.models import Application, ApplicationEvent, CrossRegionFiling, IdempotentResponse
from mtb.catalog.models import CalendarYear, CatalogVersion
from mtb.channels.models import Channel, ChannelAssertion
from mtb.db.engine import Base
from mtb.identity.models import InsuredPerson, LoginThrottle, RevokedToken, StaffUser
from mtb.materials.models import Material
from mtb.notifications.models import Notification
from mtb.prereview.models import MaterialPrereview
from mtb.qualifications.models import HospitalKey, Qualification, QualificationEvent, ReminderSent
from mtb.review.models import QualitySample, ReviewDecision
from mtb.webhooks.models import WebhookAttempt, WebhookEndpoint, WebhookMessage

__all__ = [
    "Application", "ApplicationEvent", "Base", "CalendarYear", "CatalogVersion", "Channel", "ChannelAssertion",
    "CrossRegionFiling", "HospitalKey", "IdempotentResponse", "InsuredPerson", "LoginThrottle", "Material",
    "MaterialPrereview", "Notification", "Qualification", "QualificationEvent", "QualitySample",
    "ReminderSent", "ReviewDecision", "RevokedToken", "StaffUser", "WebhookAttempt",
    "WebhookEndpoint", "WebhookMessage",
]
