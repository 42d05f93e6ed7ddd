"""The OpenBao ACL policies, shipped in the wheel and found with importlib.resources."""
