"""Minimal JSON-RPC clients for a running Odoo 18 server.

* ``OdooRpc``: Odoo's external API (``/jsonrpc``, services ``common``/``object``),
  what an integration or script would use: ``execute_kw(model, method, args, kwargs)``.
* ``WebSession``: behaves like the web client in a browser: a cookie session
  from ``/web/session/authenticate``, then ``/web/dataset/call_kw/<model>/<method>``
  with the user's context, and ``/web/dataset/call_button/<model>/<method>`` for
  buttons of type "object" (args ``[[record ids], *extra]``, kwargs ``{context}``).

Server-side errors raise ``RpcError`` carrying the server's message and the
exception class name (e.g. ``odoo.exceptions.UserError``).
"""

from __future__ import annotations

import itertools

import requests

_ids = itertools.count(1)


class RpcError(Exception):
    """An error answered by the server; ``.name`` is the Python exception class."""

    def __init__(self, error: dict):
        data = error.get("data") or {}
        self.error = error
        self.code = error.get("code")
        self.name = data.get("name") or ""
        self.message = data.get("message") or error.get("message") or "Odoo RPC error"
        self.arguments = data.get("arguments") or []
        self.debug = data.get("debug") or ""
        super().__init__(f"{self.message} [{self.name}]" if self.name else self.message)


def _post_jsonrpc(session: requests.Session, url: str, params: dict, timeout: float):
    payload = {"jsonrpc": "2.0", "method": "call", "params": params, "id": next(_ids)}
    response = session.post(url, json=payload, timeout=timeout)
    response.raise_for_status()
    body = response.json()
    if body.get("error"):
        raise RpcError(body["error"])
    return body.get("result")


class _ModelHelpers:
    """Shortcuts on top of ``_call(model, method, args, kwargs)``."""

    def _call(self, model, method, args, kwargs):  # pragma: no cover - abstract
        raise NotImplementedError

    def search(self, model, domain, **kwargs):
        return self._call(model, "search", [domain], kwargs)

    def search_read(self, model, domain, fields=None, **kwargs):
        if fields is not None:
            kwargs["fields"] = fields
        return self._call(model, "search_read", [domain], kwargs)

    def read(self, model, ids, fields=None):
        return self._call(model, "read", [ids], {"fields": fields} if fields else {})

    def create(self, model, values):
        return self._call(model, "create", [values], {})

    def write(self, model, ids, values):
        return self._call(model, "write", [ids, values], {})

    def unlink(self, model, ids):
        return self._call(model, "unlink", [ids], {})

    def ref(self, xmlid: str) -> int:
        """Database id of ``module.name`` (``ir.model.data``), like ``env.ref(...).id``."""
        module, name = xmlid.split(".", 1)
        rows = self._call(
            "ir.model.data",
            "search_read",
            [[("module", "=", module), ("name", "=", name)]],
            {"fields": ["res_id"], "limit": 1},
        )
        if not rows:
            raise LookupError(f"no record with xmlid {xmlid}")
        return rows[0]["res_id"]


class OdooRpc(_ModelHelpers):
    """External JSON-RPC API on ``/jsonrpc`` (what XML-RPC clients use, in JSON)."""

    def __init__(self, url: str, db: str, login: str = "admin", password: str = "admin", timeout: float = 120):
        self.url = url.rstrip("/")
        self.db, self.login_name, self.password = db, login, password
        self.timeout = timeout
        self.session = requests.Session()
        self.uid = None

    def call(self, service: str, method: str, *args):
        return _post_jsonrpc(
            self.session,
            f"{self.url}/jsonrpc",
            {"service": service, "method": method, "args": list(args)},
            self.timeout,
        )

    def login(self) -> int:
        uid = self.call("common", "login", self.db, self.login_name, self.password)
        if not uid:
            raise RpcError({"message": f"login {self.login_name!r} refused on {self.db}"})
        self.uid = uid
        return uid

    def execute_kw(self, model: str, method: str, args=None, kwargs=None):
        if self.uid is None:
            self.login()
        return self.call(
            "object",
            "execute_kw",
            self.db,
            self.uid,
            self.password,
            model,
            method,
            list(args or []),
            dict(kwargs or {}),
        )

    def _call(self, model, method, args, kwargs):
        return self.execute_kw(model, method, args, kwargs)


class WebSession(_ModelHelpers):
    """A logged-in browser session, calling the same routes as the web client."""

    def __init__(self, url: str, db: str, timeout: float = 120):
        self.url = url.rstrip("/")
        self.db = db
        self.timeout = timeout
        self.session = requests.Session()  # keeps the session_id cookie
        self.uid = None
        self.context: dict = {}
        self.info: dict = {}

    def json(self, path: str, params: dict | None = None):
        """POST a JSON-RPC request to any ``type='json'`` route."""
        return _post_jsonrpc(self.session, self.url + path, params or {}, self.timeout)

    def authenticate(self, login: str, password: str) -> dict:
        info = self.json("/web/session/authenticate", {"db": self.db, "login": login, "password": password})
        if not info or not info.get("uid"):
            raise RpcError({"message": f"authentication of {login!r} failed"})
        self.info = info
        self.uid = info["uid"]
        self.context = dict(info.get("user_context") or {})
        return info

    def _kwargs_with_context(self, kwargs):
        kwargs = dict(kwargs or {})
        kwargs["context"] = {**self.context, **(kwargs.get("context") or {})}
        return kwargs

    def call_kw(self, model: str, method: str, args=None, kwargs=None):
        return self.json(
            f"/web/dataset/call_kw/{model}/{method}",
            {
                "model": model,
                "method": method,
                "args": list(args or []),
                "kwargs": self._kwargs_with_context(kwargs),
            },
        )

    def call_button(self, model: str, method: str, ids, args=None, context=None):
        """Click a ``type="object"`` button on records ``ids``; returns the action (or False)."""
        ids = [ids] if isinstance(ids, int) else list(ids)
        return self.json(
            f"/web/dataset/call_button/{model}/{method}",
            {
                "model": model,
                "method": method,
                "args": [ids, *(args or [])],
                "kwargs": self._kwargs_with_context({"context": context or {}}),
            },
        )

    def get(self, path: str, **kwargs) -> requests.Response:
        """Plain HTTP GET with this session's cookie (pages, downloads)."""
        return self.session.get(self.url + path, timeout=self.timeout, **kwargs)

    def _call(self, model, method, args, kwargs):
        return self.call_kw(model, method, args, kwargs)
