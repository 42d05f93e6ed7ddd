"""Documents the policy asks for: protocolo de seguridad and acta de entrega-recepción."""
