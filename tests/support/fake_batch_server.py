"""A local stand-in for the OpenAI (and Azure OpenAI) Files + Batch API, driven by the real
`openai` client over HTTP. Faults are the server's, never the client's: a batch completes after
`complete_after_s`; `error_rate` fails requests by a seeded hash of their custom_id; `expire_batches`
makes the first N batches expire with only `expire_keep` of their requests answered; `create_delay_s`
holds a create's response after the batch exists (a client killed then never learns its id);
`create_errors` answers the next N creates with a 500 after making the batch; `drop_ids` /
`duplicate_ids` / `unknown_ids` corrupt output files; `process_after_s` keeps an upload
`uploaded` (not yet `processed`) for a while; `delete_status` refuses file deletes. It counts every create and
every request per custom_id, so a test can prove nothing was paid for twice."""

from __future__ import annotations

import asyncio
import hashlib
import itertools
import json
import socket
import threading
import time
from collections import Counter
from dataclasses import dataclass, field

import uvicorn
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.base import BaseHTTPMiddleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

TERMINAL = ("completed", "failed", "expired", "cancelled")


@dataclass
class Faults:
    complete_after_s: float = 0.2
    error_rate: float = 0.0
    seed: int = 0
    expire_batches: int = 0
    expire_keep: float = 0.5
    create_delay_s: float = 0.0
    create_errors: int = 0
    process_after_s: float = 0.0
    """An uploaded file stays `uploaded` this long before it is `processed`; a create on it before
    then is refused with a 400, as Azure does."""
    delete_status: int | None = None
    """Answer every file delete with this status (405: a server without the route)."""
    drop_ids: set = field(default_factory=set)
    duplicate_ids: set = field(default_factory=set)
    unknown_ids: list = field(default_factory=list)


@dataclass
class Counts:
    creates: int = 0
    requests: Counter = field(default_factory=Counter)
    """custom_id -> times it went out in a created batch."""


class FakeBatchServer:
    def __init__(self, api_key: str = "sk-fake-test-key", faults: Faults | None = None):
        self.api_key = api_key
        self.faults = faults or Faults()
        self.counts = Counts()
        self.files: dict[str, dict] = {}
        self.batches: dict[str, dict] = {}
        self.uploads: list[dict] = []
        """Every uploaded batch file: {"id", "bytes", "lines"} (kept after deletion, for tests)."""
        self.early_creates = 0
        """Creates refused because their input file was not processed yet."""
        self.delete_refusals = 0
        self._ids = itertools.count(1)
        self._expired = 0
        self._lock = threading.Lock()
        routes = []
        for prefix in ("/v1", "/openai"):  # OpenAI, Azure
            routes += [
                Route(f"{prefix}/files", self._upload, methods=["POST"]),
                Route(f"{prefix}/files", self._list_files, methods=["GET"]),
                Route(f"{prefix}/files/{{fid}}/content", self._content, methods=["GET"]),
                Route(f"{prefix}/files/{{fid}}", self._delete, methods=["DELETE"]),
                Route(f"{prefix}/files/{{fid}}", self._retrieve_file, methods=["GET"]),
                Route(f"{prefix}/batches", self._create, methods=["POST"]),
                Route(f"{prefix}/batches", self._list_batches, methods=["GET"]),
                Route(f"{prefix}/batches/{{bid}}", self._retrieve, methods=["GET"]),
                Route(f"{prefix}/batches/{{bid}}/cancel", self._cancel, methods=["POST"]),
            ]
        self.app = Starlette(routes=routes, middleware=[Middleware(BaseHTTPMiddleware, dispatch=self._auth)])
        self._sock = socket.socket()
        self._sock.bind(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self._sock.getsockname()[1]}"
        self._server = uvicorn.Server(uvicorn.Config(self.app, log_level="warning", lifespan="off"))
        self._thread = threading.Thread(target=self._server.run, kwargs={"sockets": [self._sock]}, daemon=True)

    def start(self) -> FakeBatchServer:
        self._thread.start()
        while not self._server.started:
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=5)
        self._sock.close()

    def live_files(self) -> list[str]:
        return [f["id"] for f in self.files.values() if not f["deleted"]]

    # -- plumbing ---------------------------------------------------------------------------

    async def _auth(self, request: Request, call_next):
        given = request.headers.get("api-key") or request.headers.get("authorization", "").removeprefix("Bearer ")
        if given != self.api_key:
            return JSONResponse({"error": {"message": "bad api key", "type": "invalid_request_error"}}, 401)
        return await call_next(request)

    def _new_id(self, kind: str) -> str:
        return f"{kind}-{next(self._ids):06d}"

    def _add_file(self, data: bytes, filename: str, purpose: str) -> dict:
        fid = self._new_id("file")
        self.files[fid] = {"id": fid, "data": data, "filename": filename, "purpose": purpose, "deleted": False}
        self.files[fid]["created_at"] = int(time.time())
        self.files[fid]["_t0"] = time.monotonic()
        return self.files[fid]

    def _file_json(self, f: dict) -> dict:
        public = {k: f[k] for k in ("id", "created_at", "filename", "purpose")}
        return {
            **public,
            "object": "file",
            "bytes": len(f["data"]),
            "status": "processed" if self._processed(f) else "uploaded",
        }

    def _processed(self, f: dict) -> bool:
        return time.monotonic() - f["_t0"] >= self.faults.process_after_s

    @staticmethod
    def _page(items: list[dict], request: Request) -> JSONResponse:
        after, limit = request.query_params.get("after"), int(request.query_params.get("limit", 20))
        start = next((i + 1 for i, it in enumerate(items) if it["id"] == after), 0) if after else 0
        page = items[start : start + limit]
        ends = {"first_id": page[0]["id"], "last_id": page[-1]["id"]} if page else {}
        return JSONResponse({"object": "list", "data": page, "has_more": start + limit < len(items), **ends})

    # -- files -------------------------------------------------------------------------------

    async def _upload(self, request: Request) -> Response:
        form = await request.form()
        upload = form["file"]
        data = await upload.read()
        f = self._add_file(data, upload.filename, str(form["purpose"]))
        self.uploads.append(
            {"id": f["id"], "bytes": len(data), "lines": [json.loads(x) for x in data.decode().splitlines() if x]}
        )
        return JSONResponse(self._file_json(f))

    async def _list_files(self, request: Request) -> Response:
        purpose = request.query_params.get("purpose")
        items = [
            self._file_json(f)
            for f in reversed(self.files.values())
            if not f["deleted"] and (not purpose or f["purpose"] == purpose)
        ]
        return self._page(items, request)

    def _file(self, fid: str) -> dict | None:
        f = self.files.get(fid)
        return f if f and not f["deleted"] else None

    async def _content(self, request: Request) -> Response:
        f = self._file(request.path_params["fid"])
        return Response(f["data"]) if f else JSONResponse({"error": {"message": "no such file"}}, 404)

    async def _retrieve_file(self, request: Request) -> Response:
        f = self._file(request.path_params["fid"])
        return JSONResponse(self._file_json(f)) if f else JSONResponse({"error": {"message": "no such file"}}, 404)

    async def _delete(self, request: Request) -> Response:
        if self.faults.delete_status:
            self.delete_refusals += 1
            return JSONResponse({"error": {"message": "Method Not Allowed"}}, self.faults.delete_status)
        f = self._file(request.path_params["fid"])
        if not f:
            return JSONResponse({"error": {"message": "no such file"}}, 404)
        f["deleted"] = True
        return JSONResponse({"id": f["id"], "object": "file", "deleted": True})

    # -- batches -----------------------------------------------------------------------------

    async def _create(self, request: Request) -> Response:
        body = await request.json()
        f = self._file(body["input_file_id"])
        if not f:
            return JSONResponse({"error": {"message": "no such input file"}}, 400)
        if not self._processed(f):
            self.early_creates += 1
            return JSONResponse(
                {"error": {"message": "The input file is not processed yet", "type": "invalid_request_error"}}, 400
            )
        lines = [json.loads(x) for x in f["data"].decode().splitlines() if x]
        with self._lock:
            bid = self._new_id("batch")
            expire = self._expired < self.faults.expire_batches
            self._expired += expire
            self.counts.creates += 1
            self.counts.requests.update(line["custom_id"] for line in lines)
            self.batches[bid] = {
                "id": bid, "object": "batch", "endpoint": body["endpoint"], "errors": None,
                "input_file_id": f["id"], "completion_window": body["completion_window"],
                "status": "validating", "output_file_id": None, "error_file_id": None,
                "created_at": int(time.time()), "metadata": body.get("metadata"),
                "request_counts": {"total": len(lines), "completed": 0, "failed": 0},
                "_lines": lines, "_t0": time.monotonic(), "_expire": expire, "_cancel": False,
            }  # fmt: skip
        t0 = time.monotonic()
        while time.monotonic() - t0 < self.faults.create_delay_s:  # re-read: a test may lift it
            await asyncio.sleep(0.02)
        if self.faults.create_errors > 0:
            self.faults.create_errors -= 1
            return JSONResponse({"error": {"message": "upstream hiccup", "type": "server_error"}}, 500)
        return JSONResponse(self._advance(bid))

    async def _retrieve(self, request: Request) -> Response:
        if request.path_params["bid"] not in self.batches:
            return JSONResponse({"error": {"message": "no such batch"}}, 404)
        return JSONResponse(self._advance(request.path_params["bid"]))

    async def _cancel(self, request: Request) -> Response:
        self.batches[request.path_params["bid"]]["_cancel"] = True
        return JSONResponse(self._advance(request.path_params["bid"]))

    async def _list_batches(self, request: Request) -> Response:
        return self._page([self._advance(bid) for bid in reversed(list(self.batches))], request)

    def _advance(self, bid: str) -> dict:
        """Move a batch along its clock and return its public JSON."""
        with self._lock:
            b = self.batches[bid]
            if b["status"] not in TERMINAL:
                done = min(1.0, (time.monotonic() - b["_t0"]) / max(self.faults.complete_after_s, 1e-9))
                b["status"] = "in_progress"
                b["request_counts"]["completed"] = int(
                    done * len(b["_lines"]) * (self.faults.expire_keep if b["_expire"] else 1)
                )
                if b["_cancel"] or done >= 1.0:
                    self._finish(b, "cancelled" if b["_cancel"] else "expired" if b["_expire"] else "completed")
            return {k: v for k, v in b.items() if not k.startswith("_")}

    def _finish(self, b: dict, status: str) -> None:
        keep = len(b["_lines"]) if status == "completed" else int(len(b["_lines"]) * self.faults.expire_keep)
        out, err = [], []
        for i, line in enumerate(b["_lines"]):
            cid = line["custom_id"]
            if i >= keep:
                code = "batch_expired" if status == "expired" else "batch_cancelled"
                error = {"code": code, "message": f"This request could not be executed before the batch was {status}."}
                err.append({"id": f"req-{i}", "custom_id": cid, "response": None, "error": error})
            elif self._fails(cid):
                body = {"error": {"message": f"seeded failure for {cid[:8]}", "type": "invalid_request_error"}}
                response = {"status_code": 400, "request_id": f"r{i}", "body": body}
                err.append({"id": f"req-{i}", "custom_id": cid, "response": response, "error": None})
            elif cid not in self.faults.drop_ids:
                out += [self._answer(i, cid, line["body"])] * (2 if cid in self.faults.duplicate_ids else 1)
        out += [
            self._answer(999_000 + j, cid, {"messages": [{"content": "?"}]})
            for j, cid in enumerate(self.faults.unknown_ids)
        ]
        b["status"] = status
        failed = sum(1 for e in err if e["response"])
        b["request_counts"] = {"total": len(b["_lines"]), "completed": keep - failed, "failed": failed}
        if out:
            b["output_file_id"] = self._add_file(_jsonl(out), f"{b['id']}_output.jsonl", "batch_output")["id"]
        if err:
            b["error_file_id"] = self._add_file(_jsonl(err), f"{b['id']}_error.jsonl", "batch_output")["id"]

    def _fails(self, cid: str) -> bool:
        h = int(hashlib.sha256(f"{self.faults.seed}:{cid}".encode()).hexdigest()[:8], 16)
        return h / 0xFFFFFFFF < self.faults.error_rate

    @staticmethod
    def answer_text(messages: list[dict]) -> str:
        """The deterministic answer to a request: tests recompute it."""
        return "answer: " + messages[-1]["content"][::-1]

    def _answer(self, i: int, cid: str, body: dict) -> dict:
        text = self.answer_text(body["messages"])
        usage = {
            "prompt_tokens": sum(len(m["content"]) for m in body["messages"]) // 4 + 1,
            "completion_tokens": len(text.split()),
        }
        choice = {"index": 0, "finish_reason": "stop", "message": {"role": "assistant", "content": text}}
        completion = {
            "id": f"chatcmpl-{i}",
            "object": "chat.completion",
            "model": body.get("model"),
            "usage": usage,
            "choices": [choice],
        }
        response = {"status_code": 200, "request_id": f"r{i}", "body": completion}
        return {"id": f"req-{i}", "custom_id": cid, "response": response, "error": None}


def _jsonl(rows: list[dict]) -> bytes:
    return "".join(json.dumps(r) + "\n" for r in rows).encode()
