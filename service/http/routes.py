"""Every HTTP controller of the service, in one list the app factory mounts."""

from __future__ import annotations

from litestar.types import ControllerRouterHandler

from service.accounts.controller import AccountController
from service.audit.controller import AuditController
from service.audit.integrity import AuditIntegrityController
from service.checkouts.controller import AccountCheckoutController, CheckoutController
from service.credentials.controller import CredentialController
from service.departures.controller import DepartureController
from service.directory.controller import PublicDirectoryController
from service.documents.controller import DocumentController
from service.gestores.controller import AssignmentController, GestorController
from service.handovers.controller import HandoverController
from service.http.health import HealthController
from service.incidents.controller import IncidentController
from service.me.controller import MeController
from service.rotations.controller import RotationController
from service.tokens.controller import TokenController


def route_handlers() -> list[ControllerRouterHandler]:
    return [
        HealthController,
        TokenController,
        RotationController,
        DepartureController,
        IncidentController,
        AuditIntegrityController,
        AccountController,
        GestorController,
        AssignmentController,
        CredentialController,
        DocumentController,
        HandoverController,
        PublicDirectoryController,
        MeController,
        AccountCheckoutController,
        CheckoutController,
        AuditController,
    ]
