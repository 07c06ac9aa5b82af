"""``s3://bucket/prefix``: an S3 bucket, or an S3-compatible store (``[publish] endpoint``),
through boto3.

Credentials come from where boto3 looks for them (``AWS_ACCESS_KEY_ID`` and
``AWS_SECRET_ACCESS_KEY``, ``AWS_PROFILE``, an instance role), never from newsletter.toml.
What differs is known from the bucket's listing: the ETag of a single-part upload is the
MD5 of its bytes. A PUT replaces an object whole, so a reader never gets half a file.
"""

from __future__ import annotations

import mimetypes
from collections.abc import Mapping, Sequence
from typing import Any

from newsletter.errors import PublishError
from newsletter.publish.remote import WritesEach, believed_differing
from newsletter.publish.site import LocalFile
from newsletter.publish.target import Target

_TRIES = 3  # each request, before it counts as failed (botocore's standard retries)
_DENIED = ("AccessDenied", "InvalidAccessKeyId", "SignatureDoesNotMatch", "ExpiredToken",
           "InvalidToken", "403")


class S3Remote(WritesEach):
    verified = True
    whole_batches = False

    def __init__(self, target: Target, *, endpoint: str | None, region: str | None,
                 timeout: float) -> None:
        try:
            import boto3
            from botocore.config import Config
        except ImportError as exc:
            raise PublishError(f"{target.url}: S3 targets need boto3: pip install "
                               "'newsletter[s3]'") from exc
        self.target = target
        self.timeout = timeout
        self.bucket = target.host
        self.prefix = f"{target.path}/" if target.path else ""
        config = Config(connect_timeout=timeout, read_timeout=timeout,
                        retries={"max_attempts": _TRIES, "mode": "standard"})
        self.client: Any = boto3.client("s3", endpoint_url=endpoint or None,
                                        region_name=region or None, config=config)
        self._etags = self._list()

    def _fail(self, exc: Exception, what: str) -> PublishError:
        from botocore.exceptions import (
            ClientError,
            ConnectionClosedError,
            ConnectTimeoutError,
            EndpointConnectionError,
            NoCredentialsError,
            ReadTimeoutError,
        )

        where = self.target.url
        if isinstance(exc, NoCredentialsError):
            return PublishError(f"{where}: no credentials: set AWS_ACCESS_KEY_ID and "
                                "AWS_SECRET_ACCESS_KEY (or AWS_PROFILE) in the environment")
        if isinstance(exc, ClientError):
            code = str(exc.response.get("Error", {}).get("Code", ""))
            if code in _DENIED:
                return PublishError(f"{where}: the store refused our credentials ({code}): "
                                    "check AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY")
            if code == "NoSuchBucket":
                return PublishError(f"{where}: no bucket {self.bucket!r}; create it (or fix "
                                    "[publish] url)")
            if code in ("EntityTooLarge", "QuotaExceeded", "InsufficientStorage"):
                return PublishError(f"{where}: the store is full ({code}) while {what}; the "
                                    "site there is still whole: run again once there is room",
                                    partial=True)
            return PublishError(f"{where}: {what} failed ({code or exc})", partial=True)
        if isinstance(exc, ReadTimeoutError | ConnectTimeoutError):
            return PublishError(f"{where}: no answer from the store within {self.timeout:g} s "
                                f"([publish] timeout, {_TRIES} tries) while {what}; run "
                                "'newsletter publish' again to resume", partial=True)
        if isinstance(exc, EndpointConnectionError | ConnectionClosedError):
            return PublishError(f"{where}: the connection to the store failed while {what} "
                                f"({_TRIES} tries); run 'newsletter publish' again to resume",
                                partial=True)
        return PublishError(f"{where}: {what} failed ({type(exc).__name__}: {exc}); run "
                            "'newsletter publish' again to resume", partial=True)

    def _list(self) -> dict[str, str]:
        from botocore.exceptions import BotoCoreError, ClientError

        found: dict[str, str] = {}
        try:
            pages = self.client.get_paginator("list_objects_v2").paginate(
                Bucket=self.bucket, Prefix=self.prefix)
            for page in pages:
                for item in page.get("Contents", []):
                    found[item["Key"][len(self.prefix):]] = str(item.get("ETag", "")).strip('"')
        except (BotoCoreError, ClientError) as exc:
            raise self._fail(exc, "listing the bucket") from exc
        return found

    def read(self, relative: str) -> bytes | None:
        from botocore.exceptions import BotoCoreError, ClientError

        if relative not in self._etags:
            return None
        try:
            answer = self.client.get_object(Bucket=self.bucket, Key=self.prefix + relative)
            return bytes(answer["Body"].read())
        except (BotoCoreError, ClientError) as exc:
            raise self._fail(exc, f"reading {relative}") from exc

    def differing(self, files: Mapping[str, LocalFile], believed: Mapping[str, str]
                  ) -> set[str]:
        found = set()
        for relative, local in files.items():
            etag = self._etags.get(relative)
            if etag is None:
                found.add(relative)
            elif len(etag) == 32:  # a single-part upload's ETag: the MD5 of its bytes
                if etag != local.md5():
                    found.add(relative)
            elif relative in believed_differing({relative: local}, believed):
                found.add(relative)  # multipart or encrypted: trust the record
        return found

    def write(self, relative: str, data: bytes) -> None:
        from botocore.exceptions import BotoCoreError, ClientError

        kind = mimetypes.guess_type(relative)[0] or "application/octet-stream"
        if kind.startswith("text/") or kind in ("application/javascript", "application/json"):
            kind += "; charset=utf-8"
        try:
            self.client.put_object(Bucket=self.bucket, Key=self.prefix + relative, Body=data,
                                   ContentType=kind)
        except (BotoCoreError, ClientError) as exc:
            raise self._fail(exc, f"uploading {relative}") from exc

    def remove(self, relatives: Sequence[str]) -> None:
        from botocore.exceptions import BotoCoreError, ClientError

        for start in range(0, len(relatives), 1000):  # DeleteObjects takes 1000 at a time
            keys = [{"Key": self.prefix + r} for r in relatives[start:start + 1000]]
            try:
                self.client.delete_objects(Bucket=self.bucket,
                                           Delete={"Objects": keys, "Quiet": True})
            except (BotoCoreError, ClientError) as exc:
                raise self._fail(exc, "removing files") from exc

    def finish(self, message: str) -> None:
        pass

    def close(self) -> None:
        self.client.close()
