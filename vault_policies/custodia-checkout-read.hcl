# Policy of the short-lived checkout child tokens (token role "custodia-checkout"):
# they can read a credential and nothing else.
path "custodia-kv/data/accounts/*" {
  capabilities = ["read"]
}
