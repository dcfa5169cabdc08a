"""The floor: a bare ASGI app answering a small JSON body, served by uvicorn with the options of
`mtb serve` (1 worker, no access log, no log config, proxy headers).

    .venv/bin/python bench/bare_asgi.py --port 8001
"""

from __future__ import annotations

import argparse

BODY = b'{"status":"ok"}'
HEADERS = [(b"content-type", b"application/json"), (b"content-length", str(len(BODY)).encode())]


async def app(scope, receive, send):  # type: ignore[no-untyped-def]
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return
    await send({"type": "http.response.start", "status": 200, "headers": HEADERS})
    await send({"type": "http.response.body", "body": BODY})


if __name__ == "__main__":
    import uvicorn

    p = argparse.ArgumentParser()
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8001)
    a = p.parse_args()
    uvicorn.run(app, host=a.host, port=a.port, workers=1, proxy_headers=True, log_config=None, access_log=False)
