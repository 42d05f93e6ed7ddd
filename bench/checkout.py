"""Checkout throughput: the service against the same Vault work done directly with hvac.

For each database (SQLite, and PostgreSQL when --pg-url is given) this starts a
real OpenBao dev server, one uvicorn worker of the service, seeds gestores and
accounts through the API, then runs N concurrent clients doing checkout +
check-in for a fixed time. It prints checkouts/s and p50/p99 latency; then,
against the same OpenBao, it performs what a checkout costs in Vault (read the
gestor's TOTP seed, create a single-use child token, read the credential with
it) with hvac at the same concurrency and with the service's own AppRole token,
and prints that rate and the ratio; then once more, paced to the service's rate.
Vault round trips per checkout are counted from OpenBao's own audit log.

A TOTP code is good once per gestor and time step, so each client cycles
through its own pool of gestores: size the pool to the run (--pool).

Everything shares this machine's cores, so each phase also reports the CPU time
that each process spent per unit of work (from /proc: the service, OpenBao, the
PostgreSQL backends of the bench database plus its WAL writer, and this load
generator), and the rate at which the three processes other than the service
would fill the machine on their own: no service, however fast, can beat that.

    .venv/bin/python bench/checkout.py --clients 16 --seconds 20 \\
        --pg-url postgresql+asyncpg://postgres@127.0.0.1:5432/bench_checkout
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import httpx
import hvac
import pyotp
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from service.devstack.bootstrap import bootstrap_vault  # noqa: E402
from tests.bao_server import DevServer, free_port_pair, start_dev_server, stop  # noqa: E402

STEP = 30


@dataclass
class Gestor:
    gestor_id: str
    account_id: str
    headers: dict[str, str]
    seed: str
    used_steps: set[int] = field(default_factory=set)


@dataclass
class Result:
    checkouts: int
    seconds: float
    latencies: list[float]
    starved: int
    errors: dict[int, int]

    @property
    def rate(self) -> float:
        return self.checkouts / self.seconds


class CpuMeter:
    """CPU seconds (user + system) per process group, read from /proc between two marks."""

    def __init__(self, service_pid: int, bao_pid: int, database: str | None) -> None:
        self.pids = {"service": service_pid, "openbao": bao_pid}
        self.database = database
        self.start = self.read()

    def read(self) -> dict[str, dict[int, float]]:
        """Seconds per group and pid: a backend that exits meanwhile must not count negative."""
        tick = os.sysconf("SC_CLK_TCK")
        used = {name: {pid: _cpu_of(pid) / tick} for name, pid in self.pids.items()}
        if self.database is not None:
            used["postgresql"] = {pid: _cpu_of(pid) / tick for pid in self._postgres()}
        own = resource.getrusage(resource.RUSAGE_SELF)
        used["load generator"] = {os.getpid(): own.ru_utime + own.ru_stime}
        return used

    def _postgres(self) -> list[int]:
        # Backends name their database in the process title; commits also cost the WAL writer.
        found = []
        for entry in os.listdir("/proc"):
            if not entry.isdigit():
                continue
            try:
                title = Path(f"/proc/{entry}/cmdline").read_bytes().decode(errors="replace")
            except OSError:
                continue
            if title.startswith("postgres:") and (
                f" {self.database} " in title or "walwriter" in title
            ):
                found.append(int(entry))
        return found

    def per_unit(self, units: int) -> dict[str, float]:
        """Milliseconds of CPU per unit since the last mark, by group; then a new mark."""
        now = self.read()
        spent = {}
        for name, pids in now.items():
            before = self.start.get(name, {})
            seconds = sum(t - before.get(pid, 0.0) for pid, t in pids.items())
            spent[name] = seconds * 1000 / max(units, 1)
        self.start = now
        return spent


def _cpu_of(pid: int) -> int:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0
    return int(fields[11]) + int(fields[12])


def report_cpu(label: str, spent: dict[str, float], rate: float, others: list[str]) -> None:
    parts = "  ".join(f"{name} {ms:.2f}" for name, ms in spent.items())
    print(f"  CPU ms per {label}: {parts}")
    floor = sum(spent[name] for name in others)
    cores = os.cpu_count() or 1
    print(
        f"    at {rate:.1f}/s they use {sum(spent.values()) * rate / 1000:.2f} of {cores} cores;"
        f" {', '.join(others)} alone would fill them at {cores * 1000 / floor:.0f}/s"
    )


def start_service(env: dict[str, str], port: int, log: Path) -> subprocess.Popen[bytes]:
    with log.open("wb") as out:
        process = subprocess.Popen(
            [str(ROOT / ".venv/bin/custodia"), "serve"],
            env={**os.environ, **env, "CUSTODIA_PORT": str(port)},
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=1).status_code == 200:
                return process
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    process.kill()
    raise RuntimeError(f"service did not become ready; see {log}")


def admin_token(env: dict[str, str]) -> str:
    out = subprocess.run(
        [
            str(ROOT / ".venv/bin/custodia"),
            "tokens",
            "create",
            "--role",
            "admin",
            "--name",
            "bench",
        ],
        env={**os.environ, **env},
        check=True,
        capture_output=True,
        text=True,
    )
    return out.stdout.strip()


async def seed_gestor(client: httpx.AsyncClient, admin: dict[str, str], n: int) -> Gestor:
    async def call(
        method: str, url: str, body: object, headers: dict[str, str]
    ) -> dict[str, object]:
        resp = await client.request(method, url, json=body, headers=headers)
        if resp.status_code >= 300:
            raise RuntimeError(f"{method} {url}: {resp.status_code} {resp.text}")
        return dict(resp.json()) if resp.content else {}

    account = await call(
        "POST",
        "/v1/accounts",
        {
            "platform": "x",
            "handle": f"bench{n}",
            "url": f"https://x.com/bench{n}",
            "display_name": f"Cuenta {n}",
            "area": "Comunicación Social",
            "kind": "oficial",
        },
        admin,
    )
    account_id = str(account["id"])
    await call(
        "PUT",
        f"/v1/accounts/{account_id}/credential",
        {"username": f"bench{n}", "password": f"bench-password-{n}-{os.urandom(6).hex()}"},
        admin,
    )
    gestor = await call(
        "POST",
        "/v1/gestores",
        {
            "name": f"Gestor {n}",
            "email": f"g{n}@bench.gob.mx",
            "kind": "servidor_publico",
            "cargo": "Analista",
            "area": "Comunicación Social",
        },
        admin,
    )
    gestor_id = str(gestor["id"])
    token = await call("POST", f"/v1/gestores/{gestor_id}/tokens", {"name": f"t{n}"}, admin)
    headers = {"Authorization": f"Bearer {token['token']}"}
    await call("POST", f"/v1/accounts/{account_id}/gestores", {"gestor_id": gestor_id}, admin)
    await call("POST", "/v1/me/responsiva", {"accept": True}, headers)
    enrolment = await call("POST", "/v1/me/totp/enrollment", None, headers)
    seed = str(enrolment["otpauth_uri"]).split("secret=")[1].split("&")[0]
    totp = pyotp.TOTP(seed)
    step = int(time.time()) // STEP
    # The current step stays valid (±1) even if the step turns before the server checks.
    await call("POST", "/v1/me/totp/confirm", {"code": totp.at(step * STEP)}, headers)
    return Gestor(gestor_id, account_id, headers, seed, {step})


def next_code(pool: list[Gestor]) -> tuple[Gestor, str] | None:
    """A gestor and a code for a step (current ±1) it has not used yet."""
    now_step = int(time.time()) // STEP
    for gestor in pool:
        for step in (now_step - 1, now_step, now_step + 1):
            if step not in gestor.used_steps:
                gestor.used_steps.add(step)
                return gestor, pyotp.TOTP(gestor.seed).at(step * STEP)
    return None


async def run_service_load(base: str, pools: list[list[Gestor]], seconds: float) -> Result:
    latencies: list[float] = []
    errors: dict[int, int] = {}
    starved = 0
    limits = httpx.Limits(max_connections=len(pools) * 2)
    async with httpx.AsyncClient(base_url=base, limits=limits, timeout=30) as client:
        deadline = time.perf_counter() + seconds

        async def worker(pool: list[Gestor]) -> None:
            nonlocal starved
            while time.perf_counter() < deadline:
                pick = next_code(pool)
                if pick is None:
                    starved += 1
                    await asyncio.sleep(0.5)
                    continue
                gestor, code = pick
                started = time.perf_counter()
                resp = await client.post(
                    f"/v1/accounts/{gestor.account_id}/checkouts",
                    json={"totp_code": code, "reason": "benchmark", "minutes": 5},
                    headers=gestor.headers,
                )
                if resp.status_code != 201:
                    errors[resp.status_code] = errors.get(resp.status_code, 0) + 1
                    continue
                latencies.append(time.perf_counter() - started)
                checkin = await client.post(
                    f"/v1/checkouts/{resp.json()['checkout_id']}/checkin",
                    json={},
                    headers=gestor.headers,
                )
                if checkin.status_code >= 300:
                    errors[checkin.status_code] = errors.get(checkin.status_code, 0) + 1

        started = time.perf_counter()
        await asyncio.gather(*(worker(pool) for pool in pools))
        elapsed = time.perf_counter() - started
    return Result(len(latencies), elapsed, latencies, starved, errors)


def run_direct_vault(
    bao: DevServer,
    token: str,
    gestores: list[Gestor],
    clients: int,
    seconds: float,
    pace: float | None = None,
) -> float:
    """The Vault work of one checkout, done with hvac by `clients` threads.

    ``token`` is the service's own AppRole token, so OpenBao checks the same policy;
    each thread keeps its connections, as the service's pool does. With ``pace``,
    the threads together start at most that many op-sets per second.
    """
    done = 0
    lock = threading.Lock()
    deadline = time.perf_counter() + seconds
    interval = clients / pace if pace else 0.0

    def worker(offset: int) -> None:
        nonlocal done
        client = hvac.Client(url=bao.addr, token=token)
        reader = hvac.Client(url=bao.addr, session=client.session)
        i = offset
        due = time.perf_counter() + interval * offset / clients
        while time.perf_counter() < deadline:
            if interval:
                time.sleep(max(0.0, due - time.perf_counter()))
                due += interval
            gestor = gestores[i % len(gestores)]
            i += clients
            client.secrets.kv.v2.read_secret_version(
                path=f"gestores/{gestor.gestor_id}/totp",
                mount_point="custodia-kv",
                raise_on_deleted_version=True,
            )
            reader.token = client.auth.token.create(
                role_name="custodia-checkout",
                meta={"checkout_id": "bench", "gestor_id": gestor.gestor_id},
                num_uses=1,
                ttl="60s",
                renewable=False,
            )["auth"]["client_token"]
            reader.secrets.kv.v2.read_secret_version(
                path=f"accounts/{gestor.account_id}",
                mount_point="custodia-kv",
                raise_on_deleted_version=True,
            )
            with lock:
                done += 1

    started = time.perf_counter()
    with ThreadPoolExecutor(clients) as pool:
        list(pool.map(worker, range(clients)))
    return done / (time.perf_counter() - started)


def measure_direct(
    meter: CpuMeter,
    bao: DevServer,
    token: str,
    gestores: list[Gestor],
    args: argparse.Namespace,
    pace: float | None = None,
) -> tuple[float, dict[str, float]]:
    """A direct run and the CPU each process spent per op-set in it."""
    meter.per_unit(1)  # a new mark
    started = time.perf_counter()
    rate = run_direct_vault(bao, token, gestores, args.clients, args.seconds, pace)
    return rate, meter.per_unit(round(rate * (time.perf_counter() - started)))


def vault_responses(audit_log: Path, since: datetime) -> int:
    count = 0
    with audit_log.open() as lines:
        for line in lines:
            entry = json.loads(line)
            stamp = datetime.fromisoformat(entry["time"][:26].rstrip("Z")).replace(tzinfo=UTC)
            if entry.get("type") == "response" and stamp >= since:
                count += 1
    return count


async def reset_postgres(url: str) -> None:
    engine = create_async_engine(url)
    async with engine.begin() as conn:
        await conn.execute(text("DROP SCHEMA public CASCADE"))
        await conn.execute(text("CREATE SCHEMA public"))
    await engine.dispose()


async def bench_one(label: str, database_url: str, args: argparse.Namespace, work: Path) -> None:
    bao = start_dev_server(work / f"bao-{label}")
    service: subprocess.Popen[bytes] | None = None
    try:
        creds = bootstrap_vault(bao.addr, bao.root_token, ROOT / "vault_policies")
        env = {
            "CUSTODIA_DATABASE_URL": database_url,
            "CUSTODIA_VAULT_ADDR": bao.addr,
            "CUSTODIA_VAULT_ROLE_ID": creds.role_id,
            "CUSTODIA_VAULT_SECRET_ID": creds.secret_id,
            "CUSTODIA_LOG_LEVEL": "WARNING",
        }
        port = free_port_pair()
        service = start_service(env, port, work / f"service-{label}.log")
        admin = {"Authorization": f"Bearer {admin_token(env)}"}
        base = f"http://127.0.0.1:{port}"
        async with httpx.AsyncClient(base_url=base, timeout=30) as client:
            sem = asyncio.Semaphore(8)

            async def one(n: int) -> Gestor:
                async with sem:
                    return await seed_gestor(client, admin, n)

            gestores = list(
                await asyncio.gather(*(one(n) for n in range(args.clients * args.pool)))
            )
        pools = [gestores[i :: args.clients] for i in range(args.clients)]
        since = datetime.now(UTC)
        database = None if label == "sqlite" else database_url.rsplit("/", 1)[1]
        meter = CpuMeter(service.pid, bao.pid, database)
        result = await run_service_load(base, pools, args.seconds)
        service_cpu = meter.per_unit(result.checkouts)
        trips = vault_responses(bao.audit_log_path, since)
        token = hvac.Client(url=bao.addr).auth.approle.login(
            role_id=creds.role_id, secret_id=creds.secret_id
        )["auth"]["client_token"]
        direct, direct_cpu = measure_direct(meter, bao, token, gestores, args)
        # OpenBao costs more per request when requests come apart than when they queue.
        paced, paced_cpu = measure_direct(meter, bao, token, gestores, args, result.rate)
    finally:
        if service is not None:
            os.killpg(service.pid, signal.SIGTERM)
            service.wait(timeout=15)
        stop(bao)
    lat = sorted(result.latencies)
    p50 = statistics.median(lat) * 1000 if lat else float("nan")
    p99 = lat[min(len(lat) - 1, int(len(lat) * 0.99))] * 1000 if lat else float("nan")
    print(f"[{label}] clients={args.clients} seconds={args.seconds:.0f}")
    print(
        f"  service: {result.rate:8.1f} checkouts/s (+ check-in each)"
        f"  p50 {p50:.1f} ms  p99 {p99:.1f} ms"
    )
    others = [name for name in service_cpu if name != "service"]
    report_cpu("checkout + check-in", service_cpu, result.rate, others)
    print(f"  direct Vault (hvac, same operations and token): {direct:8.1f} op-sets/s")
    direct_cpu = {k: direct_cpu[k] for k in ("openbao", "load generator")}
    report_cpu("direct op-set", direct_cpu, direct, list(direct_cpu))
    print(
        f"  direct Vault paced to the service's rate: {paced:.1f} op-sets/s,"
        f" openbao {paced_cpu['openbao']:.2f} CPU ms per op-set"
    )
    print(f"  ratio service/direct: {result.rate / direct:.2f}")
    per = trips / result.checkouts if result.checkouts else float("nan")
    print(f"  Vault round trips per checkout (OpenBao audit log): {per:.2f}")
    if result.errors or result.starved:
        print(f"  non-2xx: {result.errors}  starved waits: {result.starved}")


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--pool", type=int, default=12, help="gestores per client")
    parser.add_argument("--pg-url", default="", help="PostgreSQL database to reset and use")
    parser.add_argument("--skip-sqlite", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        if not args.skip_sqlite:
            url = f"sqlite+aiosqlite:///{work / 'bench.db'}"
            await bench_one("sqlite", url, args, work)
        if args.pg_url:
            await reset_postgres(args.pg_url)
            await bench_one("postgresql", args.pg_url, args, work)


if __name__ == "__main__":
    asyncio.run(main())
