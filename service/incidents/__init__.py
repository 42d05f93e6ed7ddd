"""Security protocol (Décima quinta): sustracción, extravío, acceso no autorizado."""
