"""The statement of responsibility (responsiva) a gestor accepts before any checkout."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

# Bump the version whenever the text changes: earlier acceptances stop counting.
RESPONSIVA_VERSION = "2026-11-28.1"

RESPONSIVA_TEXT = """\
CARTA RESPONSIVA PARA EL RESGUARDO DE CONTRASEÑAS DE CUENTAS OFICIALES DE REDES SOCIALES DIGITALES

Con fundamento en el numeral Décima quinta de las Políticas Generales para la Difusión de \
Información Pública mediante las Redes Sociales Digitales (Anexo Único del Acuerdo \
CONAIP/SNT/ACUERDO/EXT01-18/06/2019-03), como persona gestora de redes sociales digitales \
del sujeto obligado, declaro que conozco y acepto lo siguiente:

1. Toda persona que tiene acceso a las contraseñas de las cuentas oficiales es responsable \
de su resguardo y cuidado. Esa responsabilidad alcanza también a los códigos de respaldo, \
a los segundos factores y a los datos de recuperación de las cuentas.

2. Las contraseñas de las cuentas oficiales pertenecen al sujeto obligado y no a mí. \
Forman parte de la información de la entrega-recepción (Décima sexta).

3. Cada retiro de una contraseña es personal e intransferible: requiere mi token de acceso \
y mi código TOTP, y queda registrado en la bitácora de auditoría con mi nombre, la cuenta, \
la fecha, la hora y el motivo, antes de que la contraseña me sea entregada. Solo retiraré \
contraseñas cuando mis funciones lo requieran.

4. No compartiré, anotaré, copiaré ni guardaré las contraseñas fuera del servicio de \
resguardo, ni las enviaré por correo electrónico, mensajería o cualquier otro medio. No \
prestaré a nadie mi token de acceso ni el dispositivo que genera mis códigos TOTP.

5. Informaré de inmediato al área responsable de la seguridad de la información cualquier \
sustracción, extravío o acceso no autorizado, ocurrido o sospechado, que afecte a una \
cuenta, a una contraseña o a mi segundo factor, para que se aplique el protocolo de \
seguridad.

6. Cuando deje de fungir como gestor de una cuenta, mi acceso terminará en ese momento y \
las contraseñas de todas las cuentas a las que haya tenido acceso serán modificadas.

7. Cuando el servicio me indique que una contraseña debe cambiarse, registraré la nueva \
contraseña en el servicio al devolver la cuenta, y no volveré a usar una contraseña \
anterior.

8. El órgano interno de control puede consultar la bitácora de auditoría. El \
incumplimiento de esta responsiva puede dar lugar a las responsabilidades que establezcan \
las leyes aplicables.

Acepto esta responsiva de manera libre e informada. El servicio registra su versión, la \
huella SHA-256 de este texto y la fecha y hora de mi aceptación.
"""

RESPONSIVA_SHA256 = hashlib.sha256(RESPONSIVA_TEXT.encode("utf-8")).hexdigest()


@dataclass(frozen=True, slots=True)
class Responsiva:
    """One version of the responsiva, with the hash that identifies its exact text."""

    version: str
    text: str
    sha256: str


CURRENT = Responsiva(RESPONSIVA_VERSION, RESPONSIVA_TEXT, RESPONSIVA_SHA256)


def current_responsiva() -> Responsiva:
    """The responsiva a gestor must accept now."""
    return CURRENT


def acceptance_is_current(version: str | None, sha256: str | None) -> bool:
    """Whether a recorded acceptance is of the current text; an older one must be renewed."""
    return version == CURRENT.version and sha256 == CURRENT.sha256
