"""The asyncio streams echo server of echo_asyncio.py, on uvloop's event loop.

Exits with status 2 if uvloop is not importable (``pip install uvloop``); benches/latency.rs
then marks it "not available". Run: ``python3 benches/python/echo_uvloop.py``.
"""
import asyncio
import sys

from echo_asyncio import serve

try:
    import uvloop
except ImportError:
    print("uvloop not available", file=sys.stderr)
    sys.exit(2)

if __name__ == "__main__":
    if hasattr(uvloop, "run"):
        uvloop.run(serve())
    else:
        uvloop.install()
        asyncio.run(serve())
