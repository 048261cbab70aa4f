"""Serve a trained model's predictions over HTTP (needs `pip install -e ".[serve]"`):

    python -m llmagentos.serve outputs/2026-12-05/10-00-00 --port 8000
    curl -s localhost:8000/predict -H 'content-type: application/json' \\
        -d '{"task": "文本分类", "inputs": "这部电影太棒了！"}'
    # {"task":"classification","predictions":"正面"}

POST /predict takes {"task", "inputs", optional "num_beams" and "max_new_tokens"};
"inputs" is one input or a list, and "predictions" is one prediction or a list to
match. An input is a text, or {"question": ..., "context": ...} for a question-answering
task. GET /health lists the tasks and their aliases. Requests that arrive together for
the same task and settings share one batched forward pass. An unknown task or a bad
input gets a 400 with the reason, and a malformed body a 422. The server keeps serving
either way.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
from dataclasses import dataclass, field
from typing import Any

from fastapi import FastAPI, HTTPException
from pydantic import BaseModel, Field

from llmagentos.inference import LLMAgentOS, PreparedRequest
from llmagentos.predict import bounded

log = logging.getLogger(__name__)


class PredictRequest(BaseModel):
    task: str = Field(description="task name, alias (文本分类, 机器翻译) or type")
    inputs: str | dict[str, str] | list[str | dict[str, str]] = Field(
        description='one input or a list; an input is a text, or {"question", "context"} for QA'
    )
    # strict: "4" or true is a client's mistake, not a number to guess at.
    num_beams: int | None = Field(default=None, ge=1, strict=True)
    max_new_tokens: int | None = Field(default=None, ge=1, strict=True)


@dataclass
class _Pending:
    request: PreparedRequest
    done: asyncio.Future = field(default_factory=lambda: asyncio.get_running_loop().create_future())

    @property
    def key(self) -> tuple:
        """Requests with the same key may share a batch: same task, same generation settings."""
        return self.request.task, tuple(sorted(self.request.generation.items()))

    @property
    def items(self) -> list[Any]:
        return self.request.items


class Batcher:
    """Collects concurrent requests into batched `predict` calls, run off the event loop.

    Args:
        model: the model to predict with; only this batcher's worker calls it.
        max_batch_size: maximum inputs in one forward pass (a larger request runs alone).
        max_wait_s: how long the first request of a batch waits for others to join.
    """

    def __init__(self, model: LLMAgentOS, max_batch_size: int = 32, max_wait_s: float = 0.01):
        self.model = model
        self.max_batch_size = max_batch_size
        self.max_wait_s = max_wait_s
        self.queue: asyncio.Queue[_Pending] = asyncio.Queue()
        self.batches = 0  # forward-pass batches run so far, reported by /health

    async def predict(self, request: PreparedRequest) -> list[Any]:
        """Queue a checked request and wait for its predictions."""
        pending = _Pending(request)
        await self.queue.put(pending)
        return await pending.done

    async def run(self) -> None:
        """Serve the queue until cancelled."""
        while True:
            group = [await self.queue.get()]
            group += await self._joiners(group[0])
            await self._answer(group)

    async def _answer(self, group: list[_Pending]) -> None:
        """Run one batch for the group; if it fails, run each request alone, so that
        only a request that fails by itself gets an error."""
        self.batches += 1
        request = group[0].request
        items = [item for pending in group for item in pending.items]
        try:
            predictions = await asyncio.to_thread(
                self.model.run, request.task, items, request.generation, self.max_batch_size
            )
        except Exception as err:  # noqa: BLE001 - the requests get the error, the server lives on
            if len(group) > 1:
                for pending in group:
                    await self._answer([pending])
                return
            log.error(f"prediction failed for task {request.task!r}: {err!r}")
            group[0].done.set_exception(err)
            return
        start = 0
        for pending in group:
            pending.done.set_result(predictions[start : start + len(pending.items)])
            start += len(pending.items)

    async def _joiners(self, first: _Pending) -> list[_Pending]:
        """Take queued requests with the same key as `first`, waiting up to max_wait_s."""
        joined, size, others = [], len(first.items), []
        deadline = asyncio.get_running_loop().time() + self.max_wait_s
        while size < self.max_batch_size:
            remaining = deadline - asyncio.get_running_loop().time()
            try:
                pending = await asyncio.wait_for(self.queue.get(), timeout=max(remaining, 0))
            except TimeoutError:
                break
            if pending.key == first.key and size + len(pending.items) <= self.max_batch_size:
                joined.append(pending)
                size += len(pending.items)
            else:
                others.append(pending)
        for pending in others:  # back in the queue, for the next batch
            self.queue.put_nowait(pending)
        return joined


def create_app(
    model: LLMAgentOS, max_batch_size: int = 32, max_wait_s: float = 0.01, max_beams: int = 8,
    max_request_chars: int = 100_000,
) -> FastAPI:
    """Build the FastAPI app around a loaded model.

    A request for more than `max_beams` beams, or with more than `max_request_chars`
    characters of input text, gets a 400. Beam search and tokenizing cost time in
    proportion to them, and the one worker would hold every other request meanwhile.
    """
    batcher = Batcher(model, max_batch_size, max_wait_s)

    @contextlib.asynccontextmanager
    async def lifespan(_: FastAPI):
        worker = asyncio.create_task(batcher.run())
        yield
        worker.cancel()

    app = FastAPI(title="LLMAgentOS", lifespan=lifespan)
    app.state.batcher = batcher

    @app.get("/health")
    def health() -> dict[str, Any]:
        return {"status": "ok", "tasks": model.tasks, "batches": batcher.batches}

    @app.post("/predict")
    async def predict(request: PredictRequest) -> dict[str, Any]:
        if request.num_beams is not None and request.num_beams > max_beams:
            raise HTTPException(
                status_code=400,
                detail=f"num_beams={request.num_beams} exceeds this server's maximum of {max_beams} "
                "(set with --max-beams when starting it); request fewer beams",
            )
        characters = _input_characters(request.inputs)
        if characters > max_request_chars:
            raise HTTPException(
                status_code=400,
                detail=f"the inputs hold {characters} characters, more than this server's maximum "
                f"of {max_request_chars} per request (set with --max-request-chars when starting "
                "it); split them over several requests",
            )
        try:
            prepared = model.prepare(
                request.task, request.inputs, num_beams=request.num_beams,
                max_new_tokens=request.max_new_tokens,
            )
            predictions = await batcher.predict(prepared)
        except KeyError as err:
            raise HTTPException(status_code=400, detail=err.args[0]) from None
        except ValueError as err:
            raise HTTPException(status_code=400, detail=str(err)) from None
        return {"task": prepared.task, "predictions": predictions[0] if prepared.single else predictions}

    return app


def _input_characters(inputs: Any) -> int:
    """Count the characters of a request's texts (questions and contexts included)."""
    items = inputs if isinstance(inputs, list) else [inputs]
    return sum(len(item) if isinstance(item, str) else sum(map(len, item.values())) for item in items)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m llmagentos.serve", description=__doc__.splitlines()[0])
    parser.add_argument("model", help="run folder, or the model/ folder inside it")
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default: this machine only)")
    parser.add_argument("--port", type=bounded(int, 1, 65535), default=8000)
    parser.add_argument("--max-batch-size", type=bounded(int, 1), default=32,
                        help="maximum inputs in one forward pass")
    parser.add_argument("--max-wait-ms", type=bounded(float, 0), default=10.0,
                        help="how long a request waits for others to share its batch")
    parser.add_argument("--max-beams", type=bounded(int, 1), default=8,
                        help="maximum num_beams a request may ask for")
    parser.add_argument("--max-request-chars", type=bounded(int, 1), default=100_000,
                        help="maximum characters of input text in one request")
    parser.add_argument("--device", help="cpu, cuda, cuda:1, ...; default: CUDA when available")
    args = parser.parse_args(argv)

    import uvicorn

    try:
        model = LLMAgentOS.from_pretrained(args.model, device=args.device)
    except (FileNotFoundError, ValueError) as err:
        parser.exit(2, f"error: {err}\n")
    app = create_app(model, args.max_batch_size, args.max_wait_ms / 1000, args.max_beams, args.max_request_chars)
    uvicorn.run(app, host=args.host, port=args.port)


if __name__ == "__main__":
    main()
