"""Drives a memcached server with pymemcache (Debian python3-pymemcache).

Usage: pymemcache_client.py HOST PORT. Prints "ok" and exits 0 when every
check passes; any failed assertion exits non-zero with a traceback.
"""
import sys

from pymemcache.client.base import Client
from pymemcache.exceptions import MemcacheClientError, MemcacheIllegalInputError

host, port = sys.argv[1], int(sys.argv[2])
client = Client((host, port), connect_timeout=5, timeout=5, default_noreply=False)

assert client.set("k", b"v", expire=100) is True
assert client.get("k") == b"v"
assert client.add("k", b"x") is False
assert client.add("k2", b"y") is True
assert client.replace("nope", b"x") is False
assert client.replace("k2", b"z") is True
assert client.append("k", b"w") is True
assert client.prepend("k", b"u") is True
assert client.get("k") == b"uvw"
value, cas = client.gets("k")
assert value == b"uvw"
assert client.cas("k", b"new", cas) is True
assert client.cas("k", b"newer", cas) is False
assert client.cas("missing", b"x", cas) is None
assert client.get_many(["k", "k2", "missing"]) == {"k": b"new", "k2": b"z"}
assert client.set_many({"a": b"1", "b": b"2"}) == []
assert client.incr("a", 41) == 42
assert client.decr("a", 50) == 0
assert client.incr("missing", 1) is None
assert client.touch("a", 100) is True
assert client.touch("missing", 100) is False
assert client.get("b") == b"2"
assert client.delete("b") is True
assert client.delete("b") is False
assert client.set("quiet", b"q", noreply=True) is True
assert client.get("quiet") == b"q"
big = b"x" * (1024 * 1024)
try:
    client.set("big", big)
    raise AssertionError("a value over the item size limit was accepted")
except MemcacheClientError:
    pass
except Exception as error:  # pymemcache reports SERVER_ERROR as MemcacheServerError
    assert "too large" in str(error), error
try:
    client.get("k" * 251)
    raise AssertionError("a key over 250 bytes was accepted")
except MemcacheIllegalInputError:
    pass
stats = client.stats()
assert stats[b"curr_items"] == 4, stats  # k, k2, a, quiet
assert b"get_hits" in stats and b"evictions" in stats, stats
assert client.version().startswith(b"1.6"), client.version()
assert client.flush_all() is True
assert client.get("k") is None
client.quit()
print("ok")
