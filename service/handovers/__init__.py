"""Entrega-recepción (Décima sexta): custody transfer, frozen annex and the acta."""
