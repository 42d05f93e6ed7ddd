# Least privilege for the Custodia service (AppRole role "custodia-service").
# Mount names are fixed: KV v2 at custodia-kv, transit at custodia-transit.
# Token self-management (lookup-self, renew-self) comes from the "default"
# policy, which the AppRole role keeps attached.

# Credentials of official accounts: write new versions, never read them. A
# password leaves Vault only through a checkout's single-use child token
# (custodia-checkout-read), so OpenBao's audit names the checkout of every read.
# No "delete" on data/: a version is only removed for good through destroy/ when
# a credential leaves custody (Décima novena); the metadata delete drops the history.
# "patch" is KV v2's server-side merge: a rotation keeps the fields it does not
# name (2FA seed, backup codes, recovery channels) without the service reading them.
path "custodia-kv/data/accounts/*" {
  capabilities = ["create", "update", "patch"]
}

path "custodia-kv/metadata/accounts/*" {
  capabilities = ["read", "delete"]
}

path "custodia-kv/destroy/accounts/*" {
  capabilities = ["update"]
}

# Keyed fingerprints (transit HMAC) of each credential version's password, so a
# write can refuse the current password without reading it back. A map
# version -> fingerprint per account, dropped with the credential.
path "custodia-kv/data/fingerprints/*" {
  capabilities = ["create", "update", "read"]
}

path "custodia-kv/metadata/fingerprints/*" {
  capabilities = ["read", "delete"]
}

# TOTP seeds of gestores: replaced on re-enrollment, deleted when they leave.
path "custodia-kv/data/gestores/*" {
  capabilities = ["create", "update", "read", "delete"]
}

path "custodia-kv/metadata/gestores/*" {
  capabilities = ["read", "delete"]
}

# Service-wide secrets (the webhook HMAC secret). Never deleted by the service.
path "custodia-kv/data/service/*" {
  capabilities = ["create", "read", "update"]
}

# Audit-chain signatures. Reading the key gives the public key for offline
# verification; the service can neither rotate, export nor delete it.
path "custodia-transit/sign/custodia-audit" {
  capabilities = ["update"]
}

path "custodia-transit/keys/custodia-audit" {
  capabilities = ["read"]
}

# Password fingerprints: HMAC only. The key cannot be read, exported or rotated
# by the service, so a fingerprint cannot be recomputed outside Vault.
path "custodia-transit/hmac/custodia-fingerprint" {
  capabilities = ["update"]
}

# Checkout child tokens: only through the token role, which pins their policy
# to custodia-checkout-read and their lifetime.
path "auth/token/create/custodia-checkout" {
  capabilities = ["update"]
}
