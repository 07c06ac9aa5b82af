"""``newsletter publish``: the archive in ``site/`` onto the association's web space.

Read and check everything first (target, site, its origin, the record, what the target holds),
then move only what changed: pages, images and assets first, then the search index, the
look-up pages, sitemap, feed and front page, then (with ``delete``) removals, then the
manifest. After every batch the local record says what the target holds, so an interrupted
publish resumes where it stopped, and the target serves a whole site at every moment.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from itertools import groupby
from pathlib import Path

from newsletter.config import Config
from newsletter.errors import ConfigError, PublishError, shown_path
from newsletter.places import Places
from newsletter.publish import record as records
from newsletter.publish.record import MANIFEST, Record
from newsletter.publish.remote import Remote
from newsletter.publish.site import LocalFile, check_origin, ordered, rank, scan
from newsletter.publish.target import Target, parse_target
from newsletter.publish.verify import Verification, verify
from newsletter.send.lock import SendLock

__all__ = ["PublishOptions", "PublishReport", "publish", "target_of"]

BATCH_FILES = 200
BATCH_BYTES = 8 * 1024 * 1024


@dataclass(frozen=True)
class PublishOptions:
    target: str | None = None  # a URL instead of [publish] url
    delete: bool = False
    dry_run: bool = False
    verify: bool | None = None  # None: [publish] verify
    site: Path | None = None  # default: the workspace's site/


@dataclass
class PublishReport:
    target: str
    dry_run: bool
    uploaded: list[str] = field(default_factory=list)  # in the order they went up
    removed: list[str] = field(default_factory=list)
    stale: list[str] = field(default_factory=list)  # gone from site/, kept (no --delete)
    unchanged: int = 0
    resumed: bool = False  # the previous publish to this target had been interrupted
    verified_remotely: bool = True  # compared with the target's bytes, not only the record
    verification: Verification | None = None

    def lines(self) -> list[str]:
        verb = "would upload" if self.dry_run else "uploaded"
        gone = "would remove" if self.dry_run else "removed"
        lines = [f"{'resuming an interrupted publish; ' if self.resumed else ''}"
                 f"{self.target}: {verb} {len(self.uploaded)} file"
                 f"{'s' if len(self.uploaded) != 1 else ''}, {gone} {len(self.removed)}, "
                 f"{self.unchanged} unchanged"
                 + ("" if self.verified_remotely else " (by the local record and size)")]
        if self.dry_run:
            lines += [f"  upload {r}" for r in self.uploaded]
            lines += [f"  remove {r}" for r in self.removed]
        if self.stale:
            lines.append(f"{len(self.stale)} file{'s' if len(self.stale) != 1 else ''} no "
                         "longer in site/ left on the target (--delete removes them)")
        if self.verification is not None:
            lines += self.verification.lines()
        return lines

    @property
    def exit_code(self) -> int:
        return 1 if self.verification is not None and self.verification.failed else 0


def target_of(config: Config, url: str | None) -> Target:
    """The target named on the command line, else ``[publish] url``."""
    chosen = url or config.section("publish").get("url")
    if not chosen:
        raise ConfigError("no publish target: set [publish] url in newsletter.toml (e.g. "
                          "\"sftp://user@host/var/www/newsletter\") or name one: "
                          "'newsletter publish URL' (docs/publishing.md)")
    return parse_target(str(chosen))


def publish(config: Config, options: PublishOptions,
            progress: Callable[[int], None] | None = None) -> PublishReport:
    """Publish the site to the target; ``PublishError`` when it cannot (partial: resumable)."""
    places = Places(config.root)
    target = target_of(config, options.target)
    site = options.site or places.site
    check_origin(site, config.root)
    settings = config.section("publish")
    timeout = float(settings.get("timeout") or 30)
    if timeout <= 0:
        raise ConfigError(f"[publish] timeout must be positive, not {timeout}")
    with SendLock(places.publish_lock, what="'newsletter publish' in this workspace"):
        files = scan(site)
        record_path = places.publish_record(target.key)
        local = records.load(record_path)
        remote = open_remote(target, config, site, timeout=timeout)
        try:
            report = _publish(remote, target, files, local, record_path, config, options,
                              progress)
        finally:
            remote.close()
    do_verify = settings.get("verify", True) if options.verify is None else options.verify
    if do_verify and not options.dry_run:
        report.verification = verify(config.archive_url, site, report.uploaded,
                                     timeout=min(timeout, 10.0),
                                     deploying=target.scheme.startswith("git+"))
    return report


def _publish(remote: Remote, target: Target, files: dict[str, LocalFile],
             local: Record | None, record_path: Path, config: Config,
             options: PublishOptions, progress: Callable[[int], None] | None
             ) -> PublishReport:
    there = _remote_manifest(remote, target)
    base_url = config.archive_url
    if there is not None and there.base_url and there.base_url != base_url:
        raise PublishError(f"{target.url} holds the archive of another newsletter (published "
                           f"for {there.base_url}, this one is {base_url}); refusing to "
                           f"overwrite it. If it is yours, remove {MANIFEST} there first")
    believed = _believed(local, there)
    report = PublishReport(target.url, options.dry_run, resumed=local is not None and not
                           local.complete, verified_remotely=remote.verified)
    changed = remote.differing(files, believed)
    gone = sorted(set(believed) - set(files))
    report.uploaded = ordered(changed)
    report.unchanged = len(files) - len(changed)
    if options.delete:
        report.removed = gone
    else:
        report.stale = gone
    if options.dry_run:
        return report
    done: list[str] = []  # what reached the target, in order
    try:
        _apply(remote, target, files, believed, there, record_path, base_url, report,
               options, progress, done)
    except PublishError as exc:
        if len(done) == len(report.uploaded) and exc.exit_code == 1:
            raise  # every file is up (or, for git, the push itself failed: it says so)
        # Something went up already: what did is recorded, and the next run resumes.
        again = "" if exc.exit_code == 1 else ("; what went up is recorded: run 'newsletter "
                                               "publish' again to resume")
        progress_made = f"; {_progress(report.uploaded, done)}" if report.uploaded else ""
        raise PublishError(f"{exc.message}{again}{progress_made}", partial=True) from exc
    return report


def _progress(planned: Sequence[str], done: Sequence[str]) -> str:
    """How far the uploads got, naming the first few files on each side."""
    left = planned[len(done):]
    return (f"uploaded {len(done)} of {len(planned)} file{'s' if len(planned) != 1 else ''}"
            f"{_names(done)}, not uploaded: {len(left)}{_names(left)}")


def _names(relatives: Sequence[str], shown: int = 3) -> str:
    if not relatives:
        return ""
    more = f" and {len(relatives) - shown} more" if len(relatives) > shown else ""
    return f" ({', '.join(relatives[:shown])}{more})"


def _apply(remote: Remote, target: Target, files: dict[str, LocalFile],
           believed: dict[str, str], there: Record | None, record_path: Path, base_url: str,
           report: PublishReport, options: PublishOptions,
           progress: Callable[[int], None] | None, done: list[str]) -> None:
    """The changes, in order; the local record durable after each step; ``done`` grows by
    each batch that reached the target."""
    state = Record(base_url, dict(believed), complete=False, target=target.url)
    records.save(record_path, state)
    for batch in _batches(report.uploaded, files, whole=remote.whole_batches):
        try:
            remote.upload([(r, files[r]) for r in batch])
        except PublishError:
            raise
        except OSError as exc:
            raise PublishError(f"{target.url}: {exc.strerror or exc}; run 'newsletter publish' "
                               "again to resume", partial=True) from exc
        state.files.update({r: files[r].sha256 for r in batch})
        records.save(record_path, state)
        done += batch
        if progress:
            progress(len(batch))
    if report.removed:
        remote.remove(report.removed)
        for relative in report.removed:
            state.files.pop(relative, None)
        records.save(record_path, state)
    kept = {r: h for r, h in state.files.items() if r in files or not options.delete}
    final = Record(base_url, kept, complete=True, target=target.url)
    if there is None or final.to_bytes() != there.to_bytes():
        remote.write(MANIFEST, final.to_bytes())
    remote.finish(f"newsletter publish: {len(report.uploaded)} uploaded, "
                  f"{len(report.removed)} removed")
    records.save(record_path, final)


def _believed(local: Record | None, there: Record | None) -> dict[str, str]:
    """What the target holds, as far as the records know (targets that can hash their files
    check it anyway). The target's own manifest wins over a finished local record: another
    machine may have published since; an unfinished local record is newer than both."""
    if local is None or (there is not None and local.complete):
        return dict(there.files) if there is not None else {}
    return {**(there.files if there is not None else {}), **local.files}


def _remote_manifest(remote: Remote, target: Target) -> Record | None:
    data = remote.read(MANIFEST)
    return None if data is None else Record.from_bytes(data, where=f"{target.url} {MANIFEST}")


def _batches(relatives: Sequence[str], files: dict[str, LocalFile], *, whole: bool
             ) -> list[list[str]]:
    """Uploads in order: one batch per ordering step among the index files (each must land
    before the next), the pages in batches of bounded count and size (``whole``: in one)."""
    batches: list[list[str]] = []
    for key, group in groupby(relatives, key=rank):
        if key[0] > 1:
            batches.append(list(group))
            continue
        batch: list[str] = []
        size = 0
        for relative in group:
            if batch and not whole and (len(batch) >= BATCH_FILES or size >= BATCH_BYTES):
                batches.append(batch)
                batch, size = [], 0
            batch.append(relative)
            size += files[relative].size
        if batch:
            batches.append(batch)
    return batches


def open_remote(target: Target, config: Config, site: Path, *, timeout: float) -> Remote:
    """Connect to the target (``PublishError``: one line, no secret)."""
    settings = config.section("publish")
    ssh_config = settings.get("ssh_config")
    ssh_file = Places(config.root).inside(Path(ssh_config)) if ssh_config else None
    if ssh_file is not None and not ssh_file.is_file():
        raise ConfigError("[publish] ssh_config: no such file", path=shown_path(ssh_file))
    if target.scheme == "file":
        from newsletter.publish.remote import FolderRemote

        return FolderRemote(target)
    if target.scheme == "rsync":
        from newsletter.publish.rsync import RsyncRemote

        return RsyncRemote(target, site, ssh_config=ssh_file, timeout=timeout)
    if target.scheme == "sftp":
        from newsletter.publish.sftp import SftpRemote

        return SftpRemote(target, ssh_config=ssh_file, timeout=timeout)
    if target.scheme in ("git+ssh", "git+file"):
        from newsletter.publish.git import GitRemote

        chosen = settings.get("git_timeout")
        git_timeout = 600.0 if chosen is None else float(chosen)
        if git_timeout <= 0:
            raise ConfigError(f"[publish] git_timeout must be positive, not {git_timeout:g}")
        return GitRemote(target, Places(config.root).publish_checkout(target.key),
                         ssh_config=ssh_file, timeout=timeout, git_timeout=git_timeout)
    from newsletter.publish.s3 import S3Remote

    return S3Remote(target, endpoint=settings.get("endpoint"), region=settings.get("region"),
                    timeout=timeout)
