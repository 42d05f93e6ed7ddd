"""The protocol's fixed steps after a sustracción, an extravío or an acceso no autorizado."""

from __future__ import annotations

from dataclasses import dataclass

from service.domain.rotation import DeadlinePolicy


@dataclass(frozen=True)
class Procedure:
    """The fixed steps for one kind of incident."""

    case: str
    title: str
    definition: str
    report: tuple[str, ...]
    service: tuple[str, ...]
    platform: tuple[str, ...]
    evidence: tuple[str, ...]


def _report(case: str) -> tuple[str, ...]:
    return (
        "Avise de inmediato al equipo de seguridad informática (ver «Contactos y escalamiento»).",
        "Registre el incidente en el servicio con POST /v1/incidents, con "
        f'{{"type": "{case}", "account_ids": [...], "description": "...", '
        '"detected_at": "..."}. Puede hacerlo el equipo de seguridad (rol admin) o el '
        "gestor, para las cuentas que tiene asignadas.",
        "Anote el folio del incidente que devuelve el servicio; se cita en todo lo demás.",
    )


def _service(policy: DeadlinePolicy) -> tuple[str, ...]:
    return (
        "Registra el incidente en la bitácora de auditoría encadenada.",
        "Cierra de inmediato todas las extracciones (checkouts) activas de las cuentas afectadas.",
        "Crea obligaciones urgentes de rotación de contraseña para cada cuenta afectada, con "
        f"vencimiento en {policy.incident_hours} h; si la cuenta ya tenía una, conserva el "
        "plazo más próximo.",
        "Marca las siguientes extracciones de esas cuentas con rotación obligatoria: la "
        "devolución exige la nueva contraseña, y la obligación solo se cumple cuando existe en "
        "custodia una versión nueva posterior al incidente.",
        "Avisa a los webhooks configurados y muestra el avance en GET /v1/incidents/{id}.",
    )


_PLATFORM_COMMON = (
    "Cierre todas las sesiones abiertas en la plataforma y en todos los dispositivos.",
    "Revoque las aplicaciones y herramientas de terceros conectadas que no estén autorizadas.",
    "Cambie la contraseña por medio de una extracción en el servicio y devuélvala con la nueva "
    "credencial, para que la obligación de rotación quede cumplida.",
    "Cambie o confirme los canales de recuperación (correo y teléfono institucionales) y "
    "restablezca el segundo factor de autenticación con una semilla nueva en custodia.",
    "Notifique por escrito al órgano interno de control, citando el folio del incidente.",
)

_EVIDENCE_COMMON = (
    "Folio del incidente y fecha y hora de detección y de cada acción, con su zona horaria.",
    "Capturas de pantalla de la actividad no reconocida, de los avisos de la plataforma y de "
    "los correos de seguridad recibidos, sin mostrar contraseñas ni códigos.",
    "Historial de sesiones y de actividad de la cuenta descargado de la plataforma.",
    "Exportación de la bitácora de auditoría del servicio para las cuentas afectadas.",
)

PROCEDURES_TEXT: tuple[tuple[str, str, str, tuple[str, ...], tuple[str, ...]], ...] = (
    (
        "sustraccion",
        "Sustracción",
        "Robo o copia de una contraseña, de un dispositivo con sesión abierta o del medio que "
        "genera el segundo factor.",
        (
            "Si la cuenta fue tomada, inicie la recuperación con el procedimiento oficial de "
            "la plataforma para cuentas robadas o comprometidas.",
        ),
        (
            "Denuncia o acta administrativa del robo del dispositivo, si la hubo.",
            "Relación de los dispositivos y sesiones afectados.",
        ),
    ),
    (
        "extravio",
        "Extravío",
        "Pérdida de un dispositivo, de un respaldo o de cualquier medio donde una contraseña o "
        "un segundo factor pudieran estar accesibles.",
        (
            "Si el dispositivo extraviado tenía sesión abierta, ciérrela a distancia desde la "
            "plataforma antes que cualquier otra acción.",
        ),
        ("Reporte del extravío firmado por la persona responsable del resguardo.",),
    ),
    (
        "acceso_no_autorizado",
        "Acceso no autorizado",
        "Uso de una cuenta por alguien sin asignación vigente, o actividad que nadie con "
        "acceso reconoce: publicaciones, mensajes, cambios de configuración o de canales de "
        "recuperación.",
        (
            "Recupere el control de la cuenta con el procedimiento de la plataforma y revise "
            "los cambios recientes de configuración, administradores y roles.",
            "Preserve las publicaciones no autorizadas antes de eliminarlas (Décima séptima).",
        ),
        ("Copia de las publicaciones o mensajes no autorizados, con su URL y fecha.",),
    ),
)


def procedures(policy: DeadlinePolicy) -> tuple[Procedure, ...]:
    """The three procedures, with the deadlines of the policy in force."""
    return tuple(
        Procedure(
            case=case,
            title=title,
            definition=definition,
            report=_report(case),
            service=_service(policy),
            platform=platform + _PLATFORM_COMMON,
            evidence=_EVIDENCE_COMMON + evidence,
        )
        for case, title, definition, platform, evidence in PROCEDURES_TEXT
    )
