"""Launch llamafactory-cli as a child process: output streamed and logged, Ctrl-C forwarded, exit code kept.

Multi-GPU and multi-node runs go through LLaMA-Factory's own launcher (torchrun via
``FORCE_TORCHRUN``), DeepSpeed through a config file in the run directory, Ray through
``USE_RAY``; medft only sets the environment those engines read.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

from medft.llamafactory import child_env, cli_path

#: DeepSpeed configs in LLaMA-Factory's style ("auto" lets the HF Trainer fill in batch sizes and precision).
_DS_COMMON = {
    "train_batch_size": "auto", "train_micro_batch_size_per_gpu": "auto", "gradient_accumulation_steps": "auto",
    "gradient_clipping": "auto", "zero_allow_untested_optimizer": True,
    "fp16": {"enabled": "auto", "loss_scale": 0, "loss_scale_window": 1000, "initial_scale_power": 16,
             "hysteresis": 2, "min_loss_scale": 1},
    "bf16": {"enabled": "auto"},
}
_OFFLOAD = {"device": "cpu", "pin_memory": True}
DEEPSPEED_STAGES = {
    "z2": {"stage": 2, "allgather_partitions": True, "allgather_bucket_size": 5e8, "overlap_comm": False,
           "reduce_scatter": True, "reduce_bucket_size": 5e8, "contiguous_gradients": True,
           "round_robin_gradients": True},
    "z3": {"stage": 3, "overlap_comm": False, "contiguous_gradients": True, "sub_group_size": 1e9,
           "reduce_bucket_size": "auto", "stage3_prefetch_bucket_size": "auto",
           "stage3_param_persistence_threshold": "auto", "stage3_max_live_parameters": 1e9,
           "stage3_max_reuse_distance": 1e9, "stage3_gather_16bit_weights_on_model_save": True},
}
DEEPSPEED_STAGES["z3_offload"] = {**DEEPSPEED_STAGES["z3"], "offload_optimizer": _OFFLOAD, "offload_param": _OFFLOAD}


class LaunchError(ValueError):
    """Distributed settings that do not fit together."""


@dataclass(frozen=True)
class Distributed:
    """How many processes and machines; empty means one process, as LLaMA-Factory decides."""

    gpus: int | None = None
    nnodes: int | None = None
    node_rank: int | None = None
    master_addr: str | None = None
    master_port: int | None = None
    deepspeed: str | None = None
    use_ray: bool = False
    extra_env: dict[str, str] = field(default_factory=dict)

    def env(self) -> dict[str, str]:
        """The environment variables LLaMA-Factory's launcher reads."""
        if self.use_ray and (self.gpus or self.nnodes):
            raise LaunchError("USE_RAY=1 schedules workers itself: drop GPUS/NNODES (set ray_num_workers=N in ARGS)")
        env: dict[str, str] = {}
        if self.gpus or (self.nnodes or 1) > 1:
            env["FORCE_TORCHRUN"] = "1"
        if self.gpus:
            env["NPROC_PER_NODE"] = str(self.gpus)
        for key, value in (("NNODES", self.nnodes), ("NODE_RANK", self.node_rank),
                           ("MASTER_ADDR", self.master_addr), ("MASTER_PORT", self.master_port)):
            if value is not None:
                env[key] = str(value)
        if (self.nnodes or 1) > 1 and not self.master_addr:
            raise LaunchError("NNODES>1 needs MASTER_ADDR (the address of node 0) on every node")
        if self.use_ray:
            env["USE_RAY"] = "1"
        env.update(self.extra_env)
        return env


def write_deepspeed_config(stage: str, run_dir: Path) -> Path:
    """Write ``ds_<stage>.json`` into the run directory and return its path."""
    if stage not in DEEPSPEED_STAGES:
        raise LaunchError(f"DS={stage!r}: choose one of {', '.join(DEEPSPEED_STAGES)}")
    path = run_dir / f"ds_{stage}.json"
    from medft.io import atomic_write_json

    atomic_write_json(path, {**_DS_COMMON, "zero_optimization": DEEPSPEED_STAGES[stage]})
    return path


def command(subcommand: str, config_path: Path) -> list[str]:
    """``llamafactory-cli <subcommand> <config>``."""
    return [cli_path(), subcommand, str(config_path)]


def shell_line(argv: list[str], env: dict[str, str]) -> str:
    """The command as a user would type it, with the environment it needs."""
    import shlex

    prefix = " ".join(f"{k}={shlex.quote(v)}" for k, v in sorted(env.items()))
    return (prefix + " " if prefix else "") + shlex.join(argv)


class ForwardedInterrupts:
    """While active, Ctrl-C and SIGTERM go to ``proc``: the first as SIGINT (a clean stop), later ones as SIGTERM.

    Enter it *before* starting the child and :meth:`attach` the child once started: a child inherits an ignored
    SIGINT (a script's background job, ``nohup``) but not a handler, so with our handler in place the child
    starts with the default Ctrl-C behaviour even when we were started with Ctrl-C ignored. (Measured: started
    from a context that ignores SIGINT, a training child spawned first kept training for minutes after the
    forwarded SIGINT.) A signal that arrives before the child is attached is forwarded on attach.

    ``arrived`` says whether the user asked to stop. Our own handlers are restored on exit.
    """

    def __init__(self, proc: subprocess.Popen | None = None):
        self.proc = proc
        self.arrived = False
        self._previous: dict = {}

    def _forward(self, _signum, _frame) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM if self.arrived else signal.SIGINT)
        self.arrived = True

    def attach(self, proc: subprocess.Popen) -> None:
        """Forward to ``proc`` from now on (and now, if the user already asked to stop)."""
        self.proc = proc
        if self.arrived and proc.poll() is None:
            proc.send_signal(signal.SIGINT)

    def __enter__(self) -> ForwardedInterrupts:
        self._previous = {sig: signal.signal(sig, self._forward) for sig in (signal.SIGINT, signal.SIGTERM)}
        return self

    def __exit__(self, *_exc) -> None:
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)


def run_streaming(argv: list[str], env: dict[str, str], log_path: Path) -> tuple[int, bool]:
    """Run ``argv``, copying its output to our stdout and to ``log_path`` as it comes.

    Returns (exit code, interrupted). The child runs in its own session so a terminal's Ctrl-C
    reaches only us; we forward one SIGINT (LLaMA-Factory then stops cleanly), a second Ctrl-C
    sends SIGTERM.
    """
    with ForwardedInterrupts() as interrupts, log_path.open("ab") as log:
        proc = subprocess.Popen(argv, env=child_env(env), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, start_new_session=True)
        try:
            interrupts.attach(proc)
            # Raw chunks, not lines: progress bars redraw with \r and would stall a line reader.
            for chunk in iter(lambda: os.read(proc.stdout.fileno(), 65536), b""):
                sys.stdout.buffer.write(chunk)
                sys.stdout.buffer.flush()
                log.write(chunk)
            code = proc.wait()
        finally:
            if proc.poll() is None:
                proc.kill()
    return code, interrupts.arrived

