"""Serve a run or a model behind an OpenAI-compatible API with ``llamafactory-cli api``.

LLaMA-Factory's server applies the chat template it is given, exactly as training did, so a client
(``eval`` with ``--model tuned=http://127.0.0.1:8000/v1``, the judge, any OpenAI SDK) sends plain
chat messages. medft adds what the bare command lacks: it finds a run's base + adapter (or merged
model) and template, binds 127.0.0.1 unless told otherwise (LLaMA-Factory alone binds 0.0.0.0),
checks the port and the backend before loading anything, waits until ``/v1/models`` answers, prints
the URL and the served model name, and forwards Ctrl-C so the server shuts down cleanly.
"""

from __future__ import annotations

import contextlib
import importlib.util
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from medft.llamafactory import child_env, cli_path
from medft.paths import runs_dir
from recipes import launch, run, validate

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8000
BACKENDS = ("huggingface", "vllm")
#: vLLM versions LLaMA-Factory 0.9.5 accepts (hparams/parser.py checks this at start-up).
VLLM_REQUIREMENT = "vllm>=0.4.3,<=0.11.0"
WHOLE_MODEL_METHODS = ("full", "freeze")


class ServeError(RuntimeError):
    """The server cannot be started as asked (the message says why and what to do)."""


@dataclass(frozen=True)
class ServePlan:
    """What ``llamafactory-cli api`` gets: its arguments, where it binds and the name it serves under."""

    config: dict[str, Any]
    host: str = DEFAULT_HOST
    port: int = DEFAULT_PORT
    name: str = "medft"
    notes: list[str] = field(default_factory=list)

    @property
    def backend(self) -> str:
        return str(self.config.get("infer_backend", "huggingface"))

    def argv(self) -> list[str]:
        """``llamafactory-cli api --key value ...`` (LLaMA-Factory parses these like a YAML config)."""
        args = [cli_path(), "api"]
        for key, value in self.config.items():
            args += [f"--{key}", _argument(value)]
        return args

    def env(self) -> dict[str, str]:
        """LLaMA-Factory's server variables: bind address, port, served model name, request logging."""
        return {"API_HOST": self.host, "API_PORT": str(self.port), "API_MODEL_NAME": self.name,
                # The server logs every request body by default; a judge run would flood the terminal.
                "API_VERBOSE": os.environ.get("API_VERBOSE", "0")}

    @property
    def url(self) -> str:
        """The base URL clients use (``/v1``); a wildcard bind is reached through loopback here."""
        host = "127.0.0.1" if self.host in ("0.0.0.0", "") else "[::1]" if self.host == "::" else self.host
        return f"http://{host}:{self.port}/v1"

    def shell_line(self) -> str:
        return launch.shell_line(self.argv(), self.env())


def _argument(value: Any) -> str:
    """A config value as HfArgumentParser reads it on a command line."""
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, dict | list):
        return json.dumps(value)
    return str(value)


def _served_name(path: Path) -> str:
    return path.resolve().name or "medft"


def model_config(target: str, template: str | None = None) -> tuple[dict[str, Any], str]:
    """LLaMA-Factory model keys for ``target`` and a default served name.

    ``target`` is a medft run (a path or a name under runs/: its ``merged/`` model if exported, else
    its base + adapter; full/freeze runs are whole models), a model directory (``config.json``), a
    LoRA adapter directory (``adapter_config.json``, base from its config) or a downloaded hub id.
    """
    path = Path(target).expanduser()
    if not path.exists():
        with contextlib.suppress(run.RunDirError):
            path = run.locate(target)
    path = path.resolve() if path.exists() else path  # the child may run elsewhere; paths must not depend on cwd
    if path.is_dir() and (path / "manifest.json").exists():
        manifest = run.read_manifest(path)
        if manifest.get("status") != "success":
            raise ServeError(f"{path} did not finish training (status {manifest.get('status')!r}); nothing to serve")
        chosen = template or manifest.get("template") or "qwen"
        if (path / "merged" / "config.json").exists():
            return {"model_name_or_path": str(path / "merged"), "template": chosen}, path.name
        if manifest.get("method") in WHOLE_MODEL_METHODS:
            return {"model_name_or_path": str(path), "template": chosen}, path.name
        return {"model_name_or_path": manifest["base_model"], "adapter_name_or_path": str(path),
                "finetuning_type": "lora", "template": chosen}, path.name
    if path.is_dir() and (path / "config.json").exists():
        return {"model_name_or_path": str(path), "template": template or "qwen"}, _served_name(path)
    if path.is_dir() and (path / "adapter_config.json").exists():
        adapter = json.loads((path / "adapter_config.json").read_text(encoding="utf-8"))
        base = adapter.get("base_model_name_or_path")
        if not base:
            raise ServeError(f"{path}/adapter_config.json names no base_model_name_or_path")
        return {"model_name_or_path": base, "adapter_name_or_path": str(path), "finetuning_type": "lora",
                "template": template or "qwen"}, _served_name(path)
    if path.exists():
        raise ServeError(f"{target}: expected a medft run directory, a model directory (config.json) or an "
                         "adapter directory (adapter_config.json)")
    if validate.HUB_ID.match(target) and not validate.check_model({"model_name_or_path": target}):
        return {"model_name_or_path": target, "template": template or "qwen"}, target.split("/")[-1]
    raise ServeError(f"model path {target!r} does not exist (looked for it as a path and as a run under "
                     f"{runs_dir()}); pass RUN=<name> or MODEL=/path/to/model")


def plan(target: str, host: str = DEFAULT_HOST, port: int = DEFAULT_PORT, backend: str = "huggingface",
         name: str | None = None, template: str | None = None, overrides: dict[str, Any] | None = None) -> ServePlan:
    """Resolve what to serve and how; raises ServeError naming every problem in the arguments."""
    if backend not in BACKENDS:
        raise ServeError(f"BACKEND={backend!r}: choose one of {', '.join(BACKENDS)}")
    if not 0 < port < 65536:
        raise ServeError(f"PORT={port} is not a TCP port (1-65535)")
    config, default_name = model_config(target, template)
    config.update(overrides or {})
    config["infer_backend"] = backend
    problems = validate.check_keys(config) + validate.check_template(config)
    if problems:
        raise ServeError("; ".join(problems))
    notes = []
    if host not in ("127.0.0.1", "localhost", "::1"):
        notes.append(f"binding {host}: the API is reachable from other machines (set API_KEY to require a key)")
    if backend == "vllm":
        notes.append("vLLM uses every visible GPU (tensor parallel = device count); limit with CUDA_VISIBLE_DEVICES")
    return ServePlan(config, host, port, name or default_name, notes)


def check_startable(serve_plan: ServePlan) -> None:
    """What would make the server die after loading the model: a missing backend, a taken port."""
    if serve_plan.backend == "vllm" and importlib.util.find_spec("vllm") is None:
        raise ServeError(f"BACKEND=vllm needs vLLM, which is not installed here: on a CUDA machine run "
                         f"`pip install '{VLLM_REQUIREMENT}'`, or serve with BACKEND=huggingface (works on CPU)")
    if not port_is_free(serve_plan.host, serve_plan.port):
        raise ServeError(f"port {serve_plan.port} on {serve_plan.host} is already in use: stop what listens there "
                         "or choose another PORT=")


def free_loopback_port() -> int:
    """A 127.0.0.1 TCP port nothing listens on right now (the kernel's pick of an ephemeral port)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def port_is_free(host: str, port: int) -> bool:
    """Whether a server could bind ``host:port`` now (SO_REUSEADDR as uvicorn sets it, so TIME_WAIT is fine)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


def _die_with_parent() -> None:  # pragma: no cover - runs in the child between fork and exec
    """Ask Linux to SIGTERM the server if medft dies without forwarding anything (kill -9, crash)."""
    with contextlib.suppress(Exception):
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


def start(serve_plan: ServePlan, stdout=None) -> subprocess.Popen:
    """Start the server in its own session (a terminal's Ctrl-C reaches medft, which forwards it)."""
    return subprocess.Popen(serve_plan.argv(), env=child_env(serve_plan.env()), stdin=subprocess.DEVNULL,
                            stdout=stdout, stderr=subprocess.STDOUT if stdout is not None else None,
                            start_new_session=True,
                            preexec_fn=_die_with_parent if sys.platform.startswith("linux") else None)


def models_answer(url: str, timeout: float = 2.0) -> list[str] | None:
    """The model ids ``GET <url>/models`` lists, or None while the server does not answer.

    No proxies: the request goes straight to the server (``HTTP_PROXY`` is ignored on purpose).
    """
    request = urllib.request.Request(f"{url}/models")
    if os.environ.get("API_KEY"):
        request.add_header("Authorization", f"Bearer {os.environ['API_KEY']}")
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(request, timeout=timeout) as response:
            return [card["id"] for card in json.loads(response.read().decode("utf-8")).get("data", [])]
    except (OSError, ValueError, KeyError):
        return None


def _listening_sockets(port: int) -> set[str] | None:
    """Inodes of the TCP sockets listening on ``port`` (any address), from /proc; None without /proc."""
    found: set[str] = set()
    readable = False
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        readable = True
        for line in lines:
            fields = line.split()
            if len(fields) > 9 and fields[3] == "0A" and int(fields[1].rsplit(":", 1)[1], 16) == port:
                found.add(fields[9])
    return found if readable else None


def _process_tree(pid: int) -> set[int]:
    """``pid`` and every process descended from it (from /proc/*/stat)."""
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError, ValueError, IndexError):
            text = stat.read_text()
            parent = int(text[text.rindex(")") + 2:].split()[1])  # after "pid (comm) state": the ppid
            children.setdefault(parent, []).append(int(stat.parent.name))
    tree, todo = set(), [pid]
    while todo:
        current = todo.pop()
        if current not in tree:
            tree.add(current)
            todo += children.get(current, [])
    return tree


def owns_port(pid: int, port: int) -> bool | None:
    """Whether the process ``pid`` (or one of its descendants) holds the socket listening on ``port``; None
    where /proc cannot tell (not Linux)."""
    sockets = _listening_sockets(port)
    if sockets is None:
        return None
    wanted = {f"socket:[{inode}]" for inode in sockets}
    for member in _process_tree(pid):
        with contextlib.suppress(OSError):
            for fd in os.scandir(f"/proc/{member}/fd"):
                with contextlib.suppress(OSError):
                    if os.readlink(fd.path) in wanted:
                        return True
    return False


def wait_ready(proc: subprocess.Popen, serve_plan: ServePlan, timeout: float) -> list[str]:
    """Poll ``/v1/models`` until *this* server answers; raise ServeError if it exits or takes too long.

    Another server can take the port while this one loads (two ``make serve`` started together both pass
    the port check): its answer does not count. Ready means the socket on the port is held by our child.
    """
    deadline = time.monotonic() + timeout
    stranger = False
    while time.monotonic() < deadline:
        code = proc.poll()
        if code is not None:
            if stranger:
                raise ServeError(f"port {serve_plan.port} on {serve_plan.host} was taken by another server while "
                                 f"this one was loading; this one exited with code {code}. Stop the other server "
                                 "or choose another PORT=")
            raise ServeError(f"llamafactory-cli api exited with code {code} before answering on {serve_plan.url} "
                             "(its output above says why)")
        listed = models_answer(serve_plan.url)
        if listed is not None:
            if owns_port(proc.pid, serve_plan.port) is not False:
                return listed
            stranger = True  # someone else answers; wait for our child to bind, or to give up
        time.sleep(0.5)
    if stranger:
        raise ServeError(f"port {serve_plan.port} on {serve_plan.host} is answered by another server, not this one "
                         f"(still loading after {timeout:.0f} s); stop the other server or choose another PORT=")
    raise ServeError(f"the server did not answer on {serve_plan.url}/models within {timeout:.0f} s "
                     "(a large model may need a longer --ready-timeout)")


def stop(proc: subprocess.Popen, grace: float = 30.0) -> int:
    """SIGINT (uvicorn's clean shutdown), then SIGTERM, then SIGKILL; return the exit code."""
    for sig, wait in ((signal.SIGINT, grace), (signal.SIGTERM, 10.0), (signal.SIGKILL, 10.0)):
        if proc.poll() is not None:
            break
        proc.send_signal(sig)
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=wait)
    return proc.wait()


@contextlib.contextmanager
def running(serve_plan: ServePlan, ready_timeout: float = 600.0, stdout=subprocess.DEVNULL) -> Iterator[str]:
    """Start the server, wait until it answers, yield its base URL, stop it on the way out.

    For programs that need a server for a while (tests, the demo); ``serve`` is the interactive form.
    """
    check_startable(serve_plan)
    proc = start(serve_plan, stdout=stdout)
    try:
        wait_ready(proc, serve_plan, ready_timeout)
        yield serve_plan.url
    finally:
        stop(proc)


def serve(serve_plan: ServePlan, ready_timeout: float = 600.0, on_ready=None) -> int:
    """Run the server in the foreground until it exits or Ctrl-C; return the exit code (0 after Ctrl-C).

    One Ctrl-C (or SIGTERM) is forwarded as SIGINT, which uvicorn answers with a clean shutdown;
    a second one sends SIGTERM.
    """
    check_startable(serve_plan)
    # Handlers first, then the server: it must not inherit an ignored SIGINT (launch.ForwardedInterrupts).
    with launch.ForwardedInterrupts() as interrupts:
        proc = start(serve_plan)
        try:
            interrupts.attach(proc)
            try:
                listed = wait_ready(proc, serve_plan, ready_timeout)
            except ServeError:
                if interrupts.arrived:  # Ctrl-C while loading: not an error
                    return _exit_code(proc.wait(), True)
                raise
            if on_ready:
                on_ready(serve_plan, listed)
            return _exit_code(proc.wait(), interrupts.arrived)
        finally:
            if proc.poll() is None:
                stop(proc)


def _exit_code(code: int, stopping: bool) -> int:
    # A server stopped by the user ended the way it should, whatever signal finally did it.
    return 0 if stopping and code in (0, -signal.SIGINT, -signal.SIGTERM, 130, 143) else code
