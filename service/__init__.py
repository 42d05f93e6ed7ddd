"""Custodia: credential custody and gestor audit for official social-media accounts."""
