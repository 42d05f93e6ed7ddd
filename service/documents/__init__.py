"""Documents the policy asks for: protocolo de seguridad, acta de entrega-recepción, directorio."""
