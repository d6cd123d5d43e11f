"""The Runner: executes one job document and reports only through a Notifier.

The flow of JOB-FORMAT.md: WAITING while the workspace and sources are prepared, STARTED
for the stages, FAILING from the first failed stage (handlers may still run), then one of
SUCCEEDED, FAILED or CANCELLED. Every problem that belongs to the job (a bad expression, a
failed clone, a refused sudo, a secret that does not decrypt) ends the job FAILED with a
reason; only programming errors, and errors of the notifier itself, leave `run`.

Every line that leaves the runner, from every stream, and every status reason, has passed
through the job's `Masker`. The last log chunk is sent before the terminal status change,
and that before `completion`, so a consumer that sees the end has seen every line.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import shlex
import shutil
import signal
import subprocess
import time
from collections.abc import Mapping, MutableMapping
from pathlib import Path
from urllib.parse import unquote, urlsplit, urlunsplit

from jobstream.events.documents.cyclidlint import env_name, is_shell_name, sudo_surprise
from jobstream.events.documents.models import (
    ActionStep,
    CommandStep,
    JobDocument,
    ScriptStep,
    SequenceEntry,
    Source,
)
from jobstream.events.documents.plan import SequencePlan
from jobstream.events.documents.secrets import SecretBox
from jobstream.events.errors import SecretError
from jobstream.events.models import DEFAULT_ORGANIZATION, Outcome, Status
from jobstream.runners.actions import ActionSettings, get_action
from jobstream.runners.builders import (
    SCRIPT_DIR,
    Builder,
    BuilderUnavailable,
    HostBuilder,
    Launch,
    Spawn,
)
from jobstream.runners.chunking import LogChunker
from jobstream.runners.conditions import (
    ConditionError,
    evaluate,
    evaluation_notes,
    interpolate_expression,
)
from jobstream.runners.interpolation import as_text, interpolate
from jobstream.runners.masking import Masker
from jobstream.runners.notifier import Notifier, StageEnd, StageStart, StepEnd, StepStart
from jobstream.runners.process import Output, Process, timestamp
from jobstream.runners.shell import command_line, script_command, step_text
from jobstream.runners.workspace import (
    GIT_ENV,
    TOKEN_VARIABLE,
    GitSource,
    Retention,
    WorkspaceError,
    clean_workspaces,
    job_lock,
    job_workspace,
    job_workspace_name,
    token_forms,
)

__all__ = ["Runner", "git_source"]

log = logging.getLogger(__name__)


# Step titles are cut to this many characters: a title names a step, the log holds it whole.
_TITLE = 200


def _seconds(value: float) -> str:
    return f"{value:g}"


def git_source(source: Source, token: str | None, context: Mapping[str, str]) -> GitSource:
    """A source as Cyclid's git plugin read it (`plugins/source/git.rb`): every field
    interpolated (`token: "%{github_token}"` included; `token` already decrypted), and the
    user and fragment of an http(s) URL taken as its token and branch. The token leaves
    the URL and goes to the clone as a field of its own; how it reaches git is
    `GitSource`'s business."""
    url = interpolate(source.url, context)
    branch = interpolate(source.branch, context) if source.branch else None
    token = interpolate(token, context) if token else None
    parts = urlsplit(url)
    if parts.scheme in ("http", "https") and parts.hostname:
        if parts.username:
            token = unquote(parts.username)
        branch = unquote(parts.fragment) or branch
        host = parts.netloc.rpartition("@")[2]
        url = urlunsplit((parts.scheme, host, parts.path, parts.query, ""))
    return GitSource(url, branch or None, token or None)


class _JobFailed(Exception):
    """A problem of the job itself (not of the runner): ends the job FAILED."""


class Runner:
    """Runs job documents in workspaces under `workspace_root`.

    `secret_box` opens sealed secret values and source tokens (values that are not sealed
    are used as they are, for documents that were never encrypted); `builder` runs every
    process of a job, sources' checkouts included (default: `HostBuilder`, today's
    unconfined behaviour; the composition root picks the sandbox from settings);
    `retention` says which finished workspaces to remove after each job (None: keep them
    all, for callers that inspect them); `kill_grace`
    is the time between SIGTERM and SIGKILL when a step's process tree is stopped; the
    `max_*` options are `LogChunker`'s; `actions` holds what actions need of the settings
    (Slack webhook, SMTP server).
    """

    def __init__(
        self,
        *,
        workspace_root: Path,
        secret_box: SecretBox | None = None,
        builder: Builder | None = None,
        retention: Retention | None = None,
        kill_grace: float = 5.0,
        max_lines: int = 1000,
        max_bytes: int = 256 * 1024,
        max_delay: float = 0.1,
        actions: ActionSettings | None = None,
    ) -> None:
        self.workspace_root = workspace_root
        self.actions = actions or ActionSettings()
        self.secret_box = secret_box
        self.builder = builder or HostBuilder()
        self.retention = retention
        self.kill_grace = kill_grace
        self.max_lines = max_lines
        self.max_bytes = max_bytes
        self.max_delay = max_delay

    async def run(
        self,
        job_id: str,
        document: JobDocument,
        notifier: Notifier,
        *,
        cancel: asyncio.Event | None = None,
    ) -> Status:
        """Run the job to its end and return its terminal status.

        Setting `cancel` stops the running step's process tree (SIGTERM, then SIGKILL
        after `kill_grace`), runs no further stage and ends the job CANCELLED.
        """
        with job_lock(self.workspace_root, job_id):
            status = await _Job(self, job_id, document, notifier, cancel).run()
            with contextlib.suppress(FileNotFoundError, WorkspaceError):
                # Its age, for the retention.
                os.utime(self.workspace_root / job_workspace_name(job_id))
        if self.retention is not None:
            await asyncio.to_thread(clean_workspaces, self.workspace_root, self.retention)
        return status


class _Job:
    """The state of one run of one job."""

    def __init__(
        self,
        runner: Runner,
        job_id: str,
        document: JobDocument,
        notifier: Notifier,
        cancel: asyncio.Event | None,
    ) -> None:
        self._runner = runner
        self._job_id = job_id
        self._document = document
        self._notifier = notifier
        self._cancel = cancel
        self._chunker = LogChunker(
            notifier,
            max_lines=runner.max_lines,
            max_bytes=runner.max_bytes,
            max_delay=runner.max_delay,
        )
        self._masker = Masker(())
        self._status = Status.NEW
        self._workspace = runner.workspace_root
        self._context: dict[str, str] = {}
        self._failure: tuple[str | None, str] | None = None
        # The exit code of the step that ran last, and of the one whose failure failed the
        # job (Completed's exit_status, which automatic retries match).
        self._step_exit: int | None = None
        self._exit_status: int | None = None
        self._stop = asyncio.Event()
        self._stopped: tuple[Status, str] | None = None
        self._scripts = 0
        self._sudo_ok: bool | None = None
        self._stage_runs = 0
        # The exit status of the running step's last process, for its step hook.
        self._exit_code: int | None = None

    # -- the job --------------------------------------------------------------------------

    async def run(self) -> Status:
        await self._set_status(Status.WAITING)
        loop = asyncio.get_running_loop()
        timer = None
        if self._document.timeout is not None:
            reason = f"timed out after {_seconds(self._document.timeout)} s"
            timer = loop.call_later(
                self._document.timeout, self._request_stop, Status.FAILED, reason
            )
        watcher = None
        if self._cancel is not None:
            watcher = asyncio.create_task(self._cancel.wait())
            watcher.add_done_callback(self._on_cancel)
            self._poll_cancel()
        try:
            await self._prepare()
            if not self._poll_cancel():
                await self._set_status(Status.STARTED)
                await self._run_sequence()
        except _JobFailed as error:
            self._fail(None, str(error))
        except Exception as error:
            # Whatever the runner did not foresee still ends the job now, with the reason
            # (masked like every reason), instead of leaving it to the lease.
            # The traceback only at debug level: `jobstream run` shows the job's own log.
            log.debug("job %s: the runner failed", self._job_id, exc_info=True)
            self._fail(None, f"the runner failed: {type(error).__name__}: {error}")
        finally:
            if timer is not None:
                timer.cancel()
            if watcher is not None:
                watcher.cancel()
        return await self._finish()

    def _on_cancel(self, task: asyncio.Task[bool]) -> None:
        if not task.cancelled():
            self._request_stop(Status.CANCELLED, "cancelled")

    def _poll_cancel(self) -> bool:
        """Whether the job must stop; sees a cancel the watcher task has not run for yet."""
        if self._cancel is not None and self._cancel.is_set():
            self._request_stop(Status.CANCELLED, "cancelled")
        return self._stop.is_set()

    def _request_stop(self, status: Status, reason: str) -> None:
        if not self._stop.is_set():
            self._stopped = (status, reason)
            self._stop.set()

    def _fail(self, stage: str | None, reason: str, exit_status: int | None = None) -> None:
        # The first failure explains the job; handlers' later failures are in the log.
        if self._failure is None:
            self._failure = (stage, reason)
            self._exit_status = exit_status

    async def _finish(self) -> Status:
        stage: str | None = None
        reason: str | None = None
        exit_status: int | None = None
        if self._stopped is not None:
            status, reason = self._stopped
        elif self._failure is not None:
            status = Status.FAILED
            stage, reason = self._failure
            exit_status = self._exit_status
        else:
            status = Status.SUCCEEDED
        await self._system(f"==> job {status.name.lower()}" + (f": {reason}" if reason else ""))
        await self._chunker.close()
        await self._set_status(status, stage=stage, reason=reason)
        await self._notifier.completion(
            status is Status.SUCCEEDED,
            status,
            self._chunker.lines,
            self._chunker.bytes,
            exit_status,
        )
        return status

    async def _set_status(
        self, status: Status, *, stage: str | None = None, reason: str | None = None
    ) -> None:
        previous, self._status = self._status, status
        masked = self._masker.mask(reason) if reason else None
        await self._notifier.status_changed(status, previous, stage=stage, reason=masked)

    # -- preparation ----------------------------------------------------------------------

    def _reveal(self, name: str, value: str) -> str:
        if not SecretBox.is_encrypted(value):
            return value
        if self._runner.secret_box is None:
            raise _JobFailed(f"cannot decrypt secret '{name}': this runner holds no key")
        try:
            return self._runner.secret_box.decrypt(
                value,
                job_id=self._job_id,
                organization=self._document.organization or "default",
                name=name,
            )
        except SecretError as error:
            raise _JobFailed(f"cannot decrypt a secret: {error}") from None

    async def _prepare(self) -> None:
        document = self._document
        # Decrypt everything first, so the masker knows every value before any line.
        secrets = {name: self._reveal(name, value) for name, value in document.secrets.items()}
        tokens = [
            self._reveal(f"sources[{i}].token", s.token) if s.token else None
            for i, s in enumerate(document.sources)
        ]
        self._masker = Masker(
            [*secrets.values(), *(form for t in tokens if t for form in token_forms(t))]
        )
        try:
            self._workspace = job_workspace(self._runner.workspace_root, self._job_id)
        except WorkspaceError as error:
            raise _JobFailed(str(error)) from None
        context = {key: as_text(value) for key, value in document.environment.items()}
        context.update(secrets)
        context.update(
            job_id=self._job_id,
            job_name=document.name,
            job_version=document.version,
            workspace=str(self._workspace),
        )
        # A document from before organisations were recorded belongs to the default one.
        context["organization"] = document.organization or DEFAULT_ORGANIZATION
        self._context = context
        sources = [
            git_source(source, token, self._context)
            for source, token in zip(document.sources, tokens, strict=True)
        ]
        # A token is usually a secret (`token: "%{github_token}"`), but its URL-encoded
        # form is not, and a literal token is not one at all.
        self._masker = Masker(
            [*secrets.values(), *(f for s in sources if s.token for f in token_forms(s.token))]
        )
        for index, source in enumerate(sources):
            if self._poll_cancel():
                return
            await self._clone(index, source)

    async def _clone(self, index: int, source: GitSource) -> None:
        try:
            commands = source.commands(self._workspace)
        except WorkspaceError as error:
            raise _JobFailed(f"sources[{index}]: {error}") from None
        env = {**GIT_ENV, **({TOKEN_VARIABLE: source.token} if source.token else {})}
        for argv in commands:
            await self._system("$ " + shlex.join(argv))
            # Sources are fetched by jobstream, so with the network whatever the job says.
            launch = Launch(shlex.join(argv) + "\n", self._workspace, self._workspace, env)
            problem = await self._execute(launch, None)
            if problem is not None and not self._stop.is_set():
                raise _JobFailed(f"sources[{index}]: {argv[1]} {source.url}: {problem}")

    # -- the sequence ---------------------------------------------------------------------

    async def _run_sequence(self) -> None:
        plan = SequencePlan.from_document(self._document)
        entries = [*self._document.sequence, *(SequenceEntry(stage=h) for h in plan.handlers)]
        index: int | None = 0
        seen: set[int] = set()
        runs = 0
        while index is not None and not self._poll_cancel():
            entry = entries[index]
            if runs == plan.run_bound:
                reason = (
                    f"stopped after {runs} stage runs, before running stage {entry.stage!r} "
                    "again: the sequence's handlers loop (Cyclid ran such a loop for ever)"
                )
                # Also in the log: an earlier stage's failure may be the job's reason.
                await self._system(f"==> {reason}")
                raise _JobFailed(reason)
            if index in seen and len(seen) == runs:
                # The first time anything runs again: say why the job may end this way.
                await self._system(
                    f"==> stage {entry.stage} runs again: the handlers loop; the job ends "
                    f"FAILED if it makes {plan.run_bound} stage runs"
                )
            seen.add(index)
            runs += 1
            index = plan.next(index, await self._run_stage(entry))

    async def _run_stage(self, entry: SequenceEntry) -> bool:
        """Run one stage, bracketed by its section marks: every line it writes, from its
        `==> stage` line to its failure's, is numbered between the two."""
        run = self._stage_runs
        self._stage_runs += 1
        started = time.monotonic()
        await self._chunker.flush()
        await self._notifier.section(StageStart(run, entry.stage, self._chunker.lines + 1))
        ok, ran = await self._stage_steps(entry, run)
        await self._chunker.flush()
        outcome: Outcome = "FAILED" if not ok else "SUCCEEDED" if ran else "SKIPPED"
        await self._notifier.section(
            StageEnd(run, entry.stage, outcome, self._chunker.lines, time.monotonic() - started)
        )
        return ok

    async def _stage_steps(self, entry: SequenceEntry, run: int) -> tuple[bool, bool]:
        """Whether the stage succeeded, and whether it ran (False: skipped, or undefined)."""
        name = entry.stage
        await self._system(f"==> stage {name}")
        stage = self._document.stage(name)
        if stage is None:
            return await self._stage_failed(name, f"stage {name!r} is not defined"), False
        try:
            should, why = await self._should_run(entry)
        except ConditionError as error:
            return await self._stage_failed(name, str(error)), False
        ok = True
        if should:
            for number, step in enumerate(stage.steps, 1):
                problem = await self._run_step(step, run, number - 1)
                if self._poll_cancel():
                    return False, True
                if problem is not None:
                    reason = f"stage {name!r} step {number} ({step.action}): {problem}"
                    return await self._stage_failed(name, reason, self._step_exit), True
        else:
            await self._system(f"==> stage {name} skipped: {why}")
        if entry.fail_if is not None:
            try:
                forced = await self._condition("fail_if", entry.fail_if)
            except ConditionError as error:
                return await self._stage_failed(name, str(error)), should
            if forced:
                ok = await self._stage_failed(name, f"fail_if {entry.fail_if!r} is true")
        return ok, should

    async def _should_run(self, entry: SequenceEntry) -> tuple[bool, str]:
        """Whether the stage runs, and if not, why; only_if wins over not_if."""
        if entry.only_if is not None:
            return await self._condition("only_if", entry.only_if), f"only_if {entry.only_if!r}"
        if entry.not_if is not None:
            return not await self._condition("not_if", entry.not_if), f"not_if {entry.not_if!r}"
        return True, ""

    async def _condition(self, modifier: str, expression: str) -> bool:
        interpolated = interpolate_expression(expression, self._context)
        try:
            result = evaluate(interpolated)
        except ConditionError as error:
            raise ConditionError(expression, f"{modifier}: {error}") from None
        # Lint warned about the text; this is where the job's own values met the rules.
        if notes := evaluation_notes(interpolated):
            said = "; ".join(notes)
            await self._system(f"==> {modifier} {expression!r} is {str(result).lower()}: {said}")
        return result

    async def _stage_failed(self, name: str, reason: str, exit_status: int | None = None) -> bool:
        await self._system(f"==> failed: {reason}")
        self._fail(name, reason, exit_status)
        if self._status is Status.STARTED:
            await self._set_status(Status.FAILING, stage=name, reason=reason)
        return False

    # -- steps ----------------------------------------------------------------------------

    async def _run_step(self, step: ActionStep, run: int, index: int) -> str | None:
        """None if the step succeeded, else what went wrong: the action the step names
        runs it (runners.actions), bracketed by its section marks."""
        started = time.monotonic()
        await self._chunker.flush()
        first = self._chunker.lines + 1
        await self._notifier.section(StepStart(run, index, step.action, self._title(step), first))
        self._exit_code = None
        action = get_action(step.action)
        self._step_exit = None
        try:
            problem = await action.run(step, _StepJob(self))
        except Exception as error:
            # A plugin's bug fails its step, not the runner and every job after it.
            problem = f"the {step.action} action failed: {type(error).__name__}: {error}"
        await self._chunker.flush()
        await self._notifier.section(
            StepEnd(
                run,
                index,
                "SUCCEEDED" if problem is None else "FAILED",
                self._exit_code,
                self._chunker.lines,
                time.monotonic() - started,
            )
        )
        return problem

    def _title(self, step: ActionStep) -> str:
        """One short line naming the step for people, masked like every line: the command
        (its first line), a script's first line after any `#!`, else the action's name."""
        if isinstance(step, CommandStep):
            text = self._interpolate(command_line(step.cmd, step.args))
        elif isinstance(step, ScriptStep):
            text = self._interpolate(step.text)
        else:
            return step.action
        lines = [line.strip() for line in self._masker.mask(text).splitlines()]
        shown = [line for line in lines if line and not line.startswith("#!")]
        title = shown[0] if shown else step.action
        cut = len(shown) > 1 or len(title) > _TITLE
        return title[: _TITLE - 1] + "…" if cut else title

    async def _run_process(self, step: CommandStep | ScriptStep) -> str | None:
        if isinstance(step, CommandStep):
            joined = command_line(step.cmd, step.args)
            if joined != step.cmd.strip() and step.args is None:
                await self._system(
                    "==> cmd's newlines, tabs and repeated spaces became single spaces, as "
                    "Cyclid joined a cmd without args"
                )
            line = self._interpolate(joined)
            await self._system(f"$ {line}")
            return await self._shell(line, step, self._interpolate(step.path or "") or None)
        return await self._run_script(step)

    async def _run_script(self, step: ScriptStep) -> str | None:
        """Write the script where `path` says (else a private file in the workspace) and
        run it from the workspace, as Cyclid's `chmod +x PATH && PATH`."""
        text = self._interpolate(step.text)
        given = self._interpolate(step.path) if step.path else None
        if given:
            # The shell reads `given` relative to the workspace, where it runs.
            file = self._workspace / given
            command = script_command(given)
            if "/" not in given:
                await self._system(
                    f"==> script path {given!r} has no '/': the shell looks it up on PATH, as "
                    f"Cyclid's `chmod +x {given} && {given}` did (write ./{given})"
                )
        else:
            file = self._private_file("script")
            command = script_command(shlex.quote(str(file)))
        try:
            file.write_text(text if text.endswith("\n") else text + "\n")
        except OSError as error:
            return f"cannot write the script to {given or file}: {error.strerror or error}"
        await self._system(f"$ {given or file.relative_to(self._workspace)}")
        try:
            return await self._shell(command, step, None)
        finally:
            if not given:
                file.unlink()

    def _private_file(self, kind: str) -> Path:
        # Inside the workspace, removed after its step: it may hold interpolated secrets,
        # and the workspace stays behind after the job.
        self._scripts += 1
        directory = self._workspace / SCRIPT_DIR
        directory.mkdir(mode=0o700, exist_ok=True)
        return directory / f"{kind}-{self._scripts}"

    async def _shell(
        self, command: str, step: CommandStep | ScriptStep, path: str | None
    ) -> str | None:
        """Run `command` from the workspace with the step's env and `cd path` in front, as
        one shell text (`runners.shell`), through the builder."""
        env: dict[str, str] = {}
        for key, value in step.env.items():
            name = env_name(key)
            if is_shell_name(name):
                env[key] = self._interpolate(value)
                if '"' in env[key]:
                    await self._system(
                        f'==> env {key!r} holds a ": it ends the double quotes of its export '
                        '(export NAME="value"), as in Cyclid'
                    )
                if name != key:
                    await self._system(f"==> env {key!r} is exported as {name}, as Cyclid did")
            else:
                # Cyclid's export failed and a bash build host ran on without it; /bin/sh
                # here would stop at a bad export, so it is left out (lint warned).
                await self._system(f"==> env {key!r} is not a shell variable name: not exported")
        prefix: list[str] = []
        if surprise := sudo_surprise(step.sudo):
            await self._system(f"==> {surprise}")
        if step.uses_sudo and os.geteuid() != 0:
            if not await self._passwordless_sudo():
                return (
                    f"sudo was asked for, but the runner runs as uid {os.geteuid()} "
                    "without passwordless sudo"
                )
            prefix = ["sudo", "-n", "--preserve-env", "--"]
        # The step's env is in the text (exported through the shell, as Cyclid did), so the
        # builder starts the shell with the job's base environment only.
        text = step_text(command, env=env, path=path) + "\n"
        network = self._document.network is not False
        launch = Launch(text, self._workspace, self._workspace, {}, network=network, prefix=prefix)
        return await self._execute(launch, step.timeout)

    async def _passwordless_sudo(self) -> bool:
        if self._sudo_ok is None:
            self._sudo_ok = False
            if shutil.which("sudo"):
                probe = await asyncio.create_subprocess_exec(
                    "sudo",
                    "-n",
                    "true",
                    stdin=asyncio.subprocess.DEVNULL,
                    stdout=asyncio.subprocess.DEVNULL,
                    stderr=asyncio.subprocess.DEVNULL,
                )
                self._sudo_ok = await probe.wait() == 0
        return self._sudo_ok

    async def _execute(self, launch: Launch, timeout: float | None) -> str | None:
        """Run one process to its end; None if it exited 0, else what went wrong."""
        try:
            with self._runner.builder.spawn(launch) as spawn:
                return await self._run_spawned(spawn, timeout)
        except BuilderUnavailable as error:
            return str(error)

    async def _run_spawned(self, spawn: Spawn, timeout: float | None) -> str | None:
        streams = {"stdout": self._masker.stream(), "stderr": self._masker.stream()}

        async def sink(output: Output) -> None:
            lines = streams[output.stream].feed(output.lines, output.continued)
            await self._chunker.add(output.stream, output.at, lines)

        process = Process(
            spawn.argv,
            cwd=spawn.cwd,
            env=spawn.env,
            on_output=sink,
            kill_grace=self._runner.kill_grace,
            pass_fds=spawn.pass_fds,
        )
        try:
            await process.start()
        except (OSError, ValueError, subprocess.SubprocessError) as error:
            # ValueError: an argument, variable or directory the OS cannot take (a NUL).
            detail = error.strerror if isinstance(error, OSError) else None
            return f"cannot start in {spawn.cwd}: {detail or error}"
        try:
            waiter = asyncio.ensure_future(process.wait())
            stopper = asyncio.ensure_future(self._stop.wait())
            try:
                done, _ = await asyncio.wait(
                    {waiter, stopper}, timeout=timeout, return_when=asyncio.FIRST_COMPLETED
                )
            finally:
                stopper.cancel()
            if waiter in done:
                code = waiter.result()
            elif self._stopped is not None:
                await self._system(f"==> stopping the step: {self._stopped[1]}")
                code = await process.terminate()
            else:
                assert timeout is not None
                await self._system(f"==> step timed out after {_seconds(timeout)} s, stopping it")
                await process.terminate()
                return f"timed out after {_seconds(timeout)} s"
        finally:
            await process.terminate()
        self._exit_code = code if code >= 0 else None
        if code < 0:
            await self._system(f"==> killed by {signal.Signals(-code).name}")
            return f"killed by {signal.Signals(-code).name}"
        await self._system(f"==> exit code {code}")
        self._step_exit = code
        return None if code == 0 else f"exit code {code}"

    # -- helpers --------------------------------------------------------------------------

    def _interpolate(self, text: str) -> str:
        return interpolate(text, self._context)

    async def _system(self, text: str) -> None:
        """Write runner text to the log as system lines, masked like all the others."""
        await self._chunker.add("system", timestamp(), self._masker.mask_lines(text.split("\n")))


class _StepJob:
    """What an action sees of the job it runs a step of (runners.actions.ActionJob)."""

    def __init__(self, job: _Job) -> None:
        self._job = job

    @property
    def job_id(self) -> str:
        return self._job._job_id

    @property
    def context(self) -> MutableMapping[str, str]:
        # The job's own dict: what an action sets, later interpolation and modifiers read.
        return self._job._context

    @property
    def workspace(self) -> Path:
        return self._job._workspace

    @property
    def settings(self) -> ActionSettings:
        return self._job._runner.actions

    def interpolate(self, text: str) -> str:
        return self._job._interpolate(text)

    async def log(self, text: str) -> None:
        await self._job._system(text)

    async def run_process(self, step: CommandStep | ScriptStep) -> str | None:
        return await self._job._run_process(step)
