"""Post-run work off the critical path: check, rename into place, manifest write.

After run ``i`` stops, its log still has to pass the official compliance checker, be renamed from
``.result_<i>.txt.partial`` to ``result_<i>.txt``, and be recorded in the manifest (a synced write).
On a sub-second run that costs a few percent of the run. :class:`PostRunWorker` does it in a helper
process while the harness clears caches and initialises run ``i+1``, and the harness waits for it
before run ``i+1``'s clock starts. So the helper never shares the machine with a timed region (MLPerf
Training, Mattson et al., MLSys 2020, Sec. 3.4: nothing may run beside the timed span that the
submission does not own). Jobs are done in order; closing the worker finishes the pending ones first,
so an interrupted suite keeps every run whose log was complete.

:func:`finish_run` is the same work done in-process: the fallback when the helper cannot start or
fails on a job, and the path used without checking.
"""

from __future__ import annotations

import os
import pickle
import select
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

from dawn.core.errors import DawnError

__all__ = ["PostRunWorker", "finish_run"]


def finish_run(job: dict[str, Any], manifest: dict[str, Any], *, check: bool = True) -> dict[str, Any]:
    """Append ``job["tail"]`` (the log's unwritten records) to ``job["partial"]``, check it (when
    ``check``), rename it to ``job["final"]``, record
    ``job["record"]`` with the check's result as run ``job["index"]`` of ``manifest`` and write that to
    ``job["manifest_path"]``; then create the next run's empty log ``job["next_partial"]``, if any.
    Returns the check fields: ``check_ok``, ``violations``, ``check_s``."""
    from dawn.core.io import atomic_write_json
    from dawn.mlperf.mllog import append_records

    if job.get("tail") and not _ends_with_run_stop(job["partial"]):  # a redone job appends once
        append_records(job["partial"], "", job["tail"])
    fields: dict[str, Any] = {}
    if check:
        from dawn.mlperf.check import check_log

        t = time.perf_counter()
        res = check_log(job["partial"])
        fields = {"check_ok": res.ok, "violations": res.violations, "check_s": time.perf_counter() - t}
    os.replace(job["partial"], job["final"])
    manifest["runs"][str(job["index"])] = {**job["record"], **fields}
    atomic_write_json(job["manifest_path"], manifest)
    if job.get("next_partial"):
        open(job["next_partial"], "w").close()  # noqa: SIM115 - an empty file, closed at once
    return fields


def _ends_with_run_stop(path: str) -> bool:
    if not os.path.exists(path):
        return False
    with open(path, "rb") as fh:
        fh.seek(max(fh.seek(0, os.SEEK_END) - 4096, 0))
        lines = fh.read().rstrip(b"\n").rsplit(b"\n", 1)
    return b'"key": "run_stop"' in lines[-1]


def _serve() -> None:
    """The helper process (``python -m dawn.mlperf.postrun``): warm the checker, say ready, then
    finish the jobs read from stdin (pickled, one after another) in order until EOF, answering each."""
    # the protocol owns the original stdout; anything else printed goes to stderr
    proto = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)
    inbox = sys.stdin.buffer

    def answer(msg: dict[str, Any]) -> None:
        data = pickle.dumps(msg, protocol=pickle.HIGHEST_PROTOCOL)
        proto.write(len(data).to_bytes(4, "little") + data)  # framed: the harness reads it raw
        proto.flush()

    from dawn.mlperf.check import warm_up

    warm_up()
    answer({"ready": True})
    manifest: dict[str, Any] = {}
    while True:
        try:
            job = pickle.load(inbox)  # noqa: S301 - our own parent process on a private pipe
        except EOFError:
            break
        # the first job brings the whole manifest; later ones only their run's record
        manifest = job.pop("manifest", None) or manifest
        try:
            answer({"index": job["index"], **finish_run(job, manifest)})
        except Exception as exc:  # noqa: BLE001 - the harness redoes the job in-process for the error
            answer({"index": job["index"], "error": f"{type(exc).__name__}: {exc}"})


class PostRunWorker:
    """A helper process that checks and files finished runs while the next one initialises.

    ``submit(job, manifest)`` hands over one finished run (see :func:`finish_run`; the helper keeps
    its own copy of ``manifest`` after the first job, so later jobs send only their record);
    ``wait()`` blocks until every submitted job is done and returns their check fields by run index;
    ``close()`` waits for them and lets the process end. A job the helper fails on, or any job when
    the helper has died, is done in this process instead, so its error (a full disk, say) surfaces as
    usual. The helper is a plain ``python -m`` child, not a multiprocessing one, so a user's script
    needs no ``__main__`` guard.
    """

    def __init__(self) -> None:
        import dawn

        env = dict(os.environ)
        # the child imports the same dawn as this process, installed or not
        root = str(Path(dawn.__file__).resolve().parents[1])
        env["PYTHONPATH"] = os.pathsep.join([root, *filter(None, [env.get("PYTHONPATH")])])
        self._proc = subprocess.Popen(
            [sys.executable, "-m", "dawn.mlperf.postrun"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            env=env,
            bufsize=0,  # both ends are used through their descriptors here
        )
        assert self._proc.stdin is not None and self._proc.stdout is not None
        self._in_fd = self._proc.stdin.fileno()
        self._out_fd = self._proc.stdout.fileno()
        self._ready = False
        self._pending: dict[int, dict[str, Any]] = {}
        self._done: dict[int, dict[str, Any]] = {}
        self._manifest: dict[str, Any] = {}  # the harness's own copy, for jobs redone in-process
        self._sent_manifest = False
        self.ready_wait_s = 0.0  # one-time: the helper's start-up not hidden behind the first init

    # The harness's side of the pipes uses raw os.read/os.write on the descriptors: between two
    # runs every line of code here runs with cold caches, and the buffered file objects' layers
    # add measurably to the system calls themselves.

    def _read_exactly(self, n: int) -> bytes | None:
        chunks = []
        while n:
            chunk = os.read(self._out_fd, n)
            if not chunk:
                return None  # the helper is gone
            chunks.append(chunk)
            n -= len(chunk)
        return b"".join(chunks)

    def _recv(self, timeout: float | None = None) -> dict[str, Any] | None:
        if timeout is not None and not select.select([self._out_fd], [], [], timeout)[0]:
            return None
        try:
            head = self._read_exactly(4)
            body = self._read_exactly(int.from_bytes(head, "little")) if head else None
            msg: dict[str, Any] | None = pickle.loads(body) if body else None  # noqa: S301 - our child
        except (OSError, pickle.UnpicklingError, EOFError):
            return None
        return msg

    def _send(self, job: dict[str, Any] | None) -> bool:
        stdin = self._proc.stdin
        assert stdin is not None
        try:
            if job is None:
                stdin.close()
                return True
            # pickling a run's records costs far less than encoding them as log lines here
            view = memoryview(pickle.dumps(job, protocol=pickle.HIGHEST_PROTOCOL))
            while view:
                view = view[os.write(self._in_fd, view) :]
            return True
        except (BrokenPipeError, OSError, ValueError):
            return False

    def _alive(self) -> bool:
        # once ready, a dead helper shows itself as end-of-file on a read or a broken pipe on a
        # write, both handled; no poll() here, a system call and a lock between every two runs
        if not self._ready and self._proc.poll() is None:
            t = time.perf_counter()
            # start-up is imports and parsing the rule files (about a second); a minute means stuck
            msg = self._recv(timeout=60)
            self.ready_wait_s += time.perf_counter() - t
            self._ready = bool(msg and msg.get("ready"))
            if not self._ready:
                self._proc.kill()
        return self._ready

    def submit(self, job: dict[str, Any], manifest: dict[str, Any]) -> None:
        """Hand over one finished run; done in-process at once if the helper is gone."""
        self._finish_pending()  # one job at a time: manifest writes stay in order
        self._manifest = manifest
        if not self._alive():
            self._done[job["index"]] = finish_run(job, manifest)
            return
        self._pending[job["index"]] = job
        wire = job if self._sent_manifest else {**job, "manifest": manifest}
        if not self._send(wire):
            self._pending.pop(job["index"])
            self._ready = False
            self._done[job["index"]] = finish_run(job, manifest)
            return
        self._sent_manifest = True

    def wait(self) -> dict[int, dict[str, Any]]:
        """Block until the helper is ready and the submitted jobs are done (after this, nothing of
        ours runs beside the caller); the check fields of the jobs finished since the last call."""
        self._finish_pending()
        done, self._done = self._done, {}
        return done

    def _finish_pending(self) -> None:
        """Collect the answers to the submitted jobs into ``_done`` (redoing here what failed)."""
        alive = self._alive()
        while self._pending:
            msg = self._recv() if alive else None
            if msg is None:  # the helper died: redo what it left
                self._ready = alive = False
                for index, job in list(self._pending.items()):
                    redo = Path(job["partial"]).exists()
                    self._done[index] = finish_run(job, self._manifest) if redo else {}
                    self._pending.pop(index)
                break
            job = self._pending.pop(msg["index"])
            if "error" in msg:
                if not Path(job["partial"]).exists():
                    raise DawnError(
                        f"finishing run {msg['index']} failed: {msg['error']}",
                        "check the result folder's disk and permissions, then rerun to resume",
                    )
                self._done[msg["index"]] = finish_run(job, self._manifest)
            else:
                self._done[msg["index"]] = {k: v for k, v in msg.items() if k != "index"}

    def close(self) -> dict[int, dict[str, Any]]:
        """Finish the pending jobs and let the helper go; their check fields by run index."""
        done = self.wait() if (self._pending or self._done) else {}
        self._send(None)  # end of input: the helper exits on its own
        # its interpreter shutdown is no work of ours to wait for; a thread reaps it
        threading.Thread(target=self._proc.wait, daemon=True, name="dawn-postrun-reaper").start()
        return done


if __name__ == "__main__":
    _serve()
