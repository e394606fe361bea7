"""Factories for rows, one module per row type, composed into the `factory` fixture's Factory.

Each writes its row with plain SQL, in any state a test needs, without going through the API.
"""

from __future__ import annotations

from tests.factories.appointments import AppointmentFactory, insert_appointment_row
from tests.factories.base import rows, value
from tests.factories.centres import CentreFactory
from tests.factories.clinicians import ClinicianFactory
from tests.factories.patients import PatientFactory
from tests.factories.payments import PaymentFactory, insert_payment_row
from tests.factories.sessions import SessionFactory
from tests.factories.users import PASSWORD, StaffUser, UserFactory, password_hash, unique_phone

__all__ = ["PASSWORD", "Factory", "StaffUser", "insert_appointment_row", "insert_payment_row", "password_hash",
           "rows", "unique_phone", "value"]


class Factory(CentreFactory, UserFactory, ClinicianFactory, PatientFactory, AppointmentFactory, PaymentFactory,
              SessionFactory):
    """Every factory on one object, sharing the test's pool and settings."""
