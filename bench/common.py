"""What the benchmarks share: their tools, a free port, a fresh database, and waiting for a server to answer."""

from __future__ import annotations

import asyncio
import re
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import aiohttp
import psycopg2

from mibo.core.migrate import migrate

PG = "postgresql://127.0.0.1:5432"

# A bare aiohttp server answering GET <path> with a fixed JSON body: the ceiling a route of ours is
# compared with. argv: port, path, body.
BARE_SERVER = """
import sys
from aiohttp import web
BODY = sys.argv[3].encode()
async def handler(request):
    return web.Response(body=BODY, content_type="application/json")
app = web.Application()
app.router.add_get(sys.argv[2], handler)
web.run_app(app, host="127.0.0.1", port=int(sys.argv[1]), access_log=None, print=None)
"""


def start_bare_server(port: int, path: str, body: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", BARE_SERVER, str(port), path, body])


def wrk(url: str, seconds: int, headers: dict[str, str] | None = None, connections: int = 32) -> float:
    """Requests/s of GET `url` under wrk (one thread, `connections` connections); any non-2xx/3xx fails."""
    cmd = ["wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "--latency"]
    for name, value in (headers or {}).items():
        cmd += ["-H", f"{name}: {value}"]
    out = subprocess.run([*cmd, url], capture_output=True, text=True, check=True).stdout
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    if non_2xx:
        raise RuntimeError(f"{url}: {non_2xx.group(1)} failed responses")
    return float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


async def wait_up(url: str, seconds: float = 15) -> None:
    """Poll `url` until it answers with anything but a 5xx (the process is up and serving)."""
    async with aiohttp.ClientSession() as session:
        for _ in range(int(seconds * 10)):
            try:
                async with session.get(url) as resp:
                    if resp.status < 500:
                        return
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.1)
    raise RuntimeError(f"{url} did not come up")


def ensure_wrk() -> None:
    if not shutil.which("wrk"):
        subprocess.run(["apt-get", "install", "-y", "-qq", "wrk"], check=True)


def ensure_py_spy() -> Path:
    """py-spy beside this interpreter (the project's virtualenv), installed on first use."""
    path = Path(sys.executable).parent / "py-spy"
    if not path.exists():
        subprocess.run([sys.executable, "-m", "pip", "install", "-q", "py-spy"], check=True)
    return path


def recreate_database(name: str) -> str:
    """Database `name` dropped, created again and migrated; its URL."""
    admin = psycopg2.connect(f"{PG}/postgres")
    admin.autocommit = True
    with admin.cursor() as cur:
        cur.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        cur.execute(f"CREATE DATABASE {name}")
    admin.close()
    url = f"{PG}/{name}"
    migrate(url)
    return url
