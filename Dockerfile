# Custodia API image: `custodia serve` (migrate, then uvicorn) as a non-root user.
# The same image runs the one-shot `custodia vault-bootstrap` and `custodia migrate`.

# Build stage: the wheel, which carries service/, migrations/ and vault_policies/.
FROM python:3.11-slim AS wheel

ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /src
# The locked set holds the build backend too, so nothing is fetched unhashed.
COPY requirements/base.txt requirements/
RUN pip install --require-hashes -r requirements/base.txt
COPY pyproject.toml README.md ./
COPY service ./service
COPY migrations ./migrations
COPY vault_policies ./vault_policies
RUN pip wheel --no-deps --no-build-isolation --wheel-dir /wheels .

FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    CUSTODIA_HOST=0.0.0.0 \
    CUSTODIA_PORT=8000

# Fixed UID so volume ownership is stable across rebuilds. The two state directories
# exist in the image so that named volumes mounted there start owned by this user.
RUN useradd --system --uid 10001 --user-group --home-dir /app --shell /usr/sbin/nologin custodia \
    && mkdir -p /var/lib/custodia/init /var/lib/custodia/approle \
    && chown -R custodia:custodia /var/lib/custodia \
    && chmod 700 /var/lib/custodia/init /var/lib/custodia/approle

# Dependencies from the lock (hashes checked), then Custodia itself, not editable: it
# finds its migrations and policies inside site-packages, so no source tree is kept.
COPY requirements/base.txt /tmp/requirements.txt
RUN pip install --require-hashes -r /tmp/requirements.txt && rm /tmp/requirements.txt
COPY --from=wheel /wheels /tmp/wheels
RUN pip install --no-deps /tmp/wheels/*.whl && rm -rf /tmp/wheels

WORKDIR /app
USER custodia
EXPOSE 8000

HEALTHCHECK --interval=10s --timeout=3s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import sys, urllib.request; sys.exit(urllib.request.urlopen('http://127.0.0.1:8000/readyz', timeout=2).status != 200)"]

CMD ["custodia", "serve"]
