"""A TCP forwarder that can be switched off: the object storage "going away" for the fault tests.

    python tests/faults/tcpgate.py LISTEN_PORT TARGET_PORT

Forwards 127.0.0.1:LISTEN_PORT to 127.0.0.1:TARGET_PORT. SIGUSR1 takes the service away as a stopped
server would: the listening socket is closed (new connections are refused) and every open connection is
cut. SIGUSR2 brings it back. moto's S3 server keeps its objects in memory, so stopping it would lose every
stored file; stopping this gate in front of it looks the same to MTB and keeps them.
"""

from __future__ import annotations

import asyncio
import signal
import sys


class Gate:
    def __init__(self, listen: int, target: int) -> None:
        self.listen, self.target = listen, target
        self.server: asyncio.Server | None = None
        self.open: set[asyncio.StreamWriter] = set()

    async def up(self) -> None:
        if self.server is None:
            self.server = await asyncio.start_server(self._serve, "127.0.0.1", self.listen, reuse_address=True)
            print(f"gate up on {self.listen}", flush=True)

    def down(self) -> None:
        if self.server is not None:
            self.server.close()
            self.server = None
        for writer in list(self.open):
            writer.transport.abort()  # a reset, as from a server that went away
        self.open.clear()
        print("gate down", flush=True)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.target)
        except OSError:
            writer.transport.abort()
            return
        self.open.update((writer, up_writer))
        try:
            await asyncio.gather(self._pipe(reader, up_writer), self._pipe(up_reader, writer))
        finally:
            for w in (writer, up_writer):
                self.open.discard(w)
                w.transport.abort()

    @staticmethod
    async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        except (ConnectionError, OSError):
            pass
        finally:
            if not writer.transport.is_closing():
                writer.transport.abort()


async def main(listen: int, target: int) -> None:
    gate = Gate(listen, target)
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGUSR1, gate.down)
    loop.add_signal_handler(signal.SIGUSR2, lambda: loop.create_task(gate.up()))
    stop = asyncio.Event()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    await gate.up()
    await stop.wait()
    gate.down()


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1]), int(sys.argv[2])))
