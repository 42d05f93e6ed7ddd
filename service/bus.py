"""Which handler reacts to which domain event, read top to bottom.

A feature publishes an event (service.domain.events) in its unit of work; the
handlers listed here run in that same transaction, in this order, so all of it
commits or none of it does. Adding a reaction is one line here.
"""

from __future__ import annotations

from service.checkouts import handlers as checkouts
from service.domain.events import (
    AccessEnded,
    CheckoutAsked,
    CredentialLeftCustody,
    CredentialWritten,
    RotationTriggered,
)
from service.rotations import handlers as rotations
from service.uow import Handlers

HANDLERS: Handlers = {
    AccessEnded: [checkouts.on_access_ended],
    CheckoutAsked: [checkouts.on_checkout_asked],
    RotationTriggered: [rotations.on_rotation_triggered],
    CredentialWritten: [rotations.on_credential_written],
    CredentialLeftCustody: [rotations.on_credential_left_custody],
}
