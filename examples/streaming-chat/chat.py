"""Chat replies, streamed token by token from a completion API that answers slowly.

`reply` is an async generator: the pool runs it on the interpreter's event loop, so while one
reply waits for its next token from the API, the same interpreter streams the others (the pool's
`concurrency` says how many at once). Nothing here knows about Node: it is the code one would
write for any asyncio service.

The API's address comes from the environment (CHAT_API_URL), as it would in a deployment.
"""
import asyncio
import json
import os
import sys
from typing import AsyncIterator, Optional

import httpx

_client: Optional[httpx.AsyncClient] = None


def _api() -> httpx.AsyncClient:
    """One client per interpreter, made on first use, on the interpreter's loop: its connections
    to the API are kept and shared by every reply in flight."""
    global _client
    if _client is None:
        _client = httpx.AsyncClient(
            base_url=os.environ["CHAT_API_URL"],
            timeout=httpx.Timeout(30.0, connect=5.0),
            limits=httpx.Limits(max_connections=None, max_keepalive_connections=32),
        )
    return _client


def _log(**fields) -> None:
    print(json.dumps(fields), file=sys.stderr, flush=True)


async def reply(request_id: str, prompt: str) -> AsyncIterator[str]:
    """The API's answer to `prompt`, token by token, as the API sends them.

    When the client goes away, Node aborts the stream: the pull in progress is cancelled
    (CancelledError where this awaits the API) or, between two pulls, the generator is closed
    (GeneratorExit at its yield). Either way the `async with` below closes the connection to the
    API, so no more tokens are asked for, and the finally says how the reply ended.
    """
    tokens = 0
    outcome = "failed"
    try:
        async with _api().stream(
            "POST", "/v1/completions", json={"prompt": prompt, "stream": True}, headers={"X-Request-Id": request_id}
        ) as response:
            response.raise_for_status()
            async for line in response.aiter_lines():
                if line:
                    tokens += 1
                    yield json.loads(line)["token"]
        outcome = "finished"
    except GeneratorExit:
        outcome = "closed"  # the consumer stopped pulling: the client disconnected
        raise
    except asyncio.CancelledError:
        outcome = "cancelled"
        raise
    finally:
        _log(event="reply ended", id=request_id, tokens=tokens, outcome=outcome)
