"""Multipart uploads on S3 (remote_store.py): listing those a push left incomplete with
their last activity, for ``mvc fsck --repair`` to abort once idle for the grace period; and
telling an upload that a cleaner aborted under a running push from any other failure."""

from __future__ import annotations


def listed(fs, root: str) -> list[tuple[str, float | None]]:
    """Incomplete multipart uploads under ``root/objects/`` (``BUCKET/KEY?uploadId=ID``), each
    with its last activity: its newest part's LastModified, else when it began (a large pack
    on a slow link began long ago but is not idle)."""
    bucket, _, prefix = f"{root}/objects/".partition("/")
    out = []
    kwargs = {"Bucket": bucket, "Prefix": prefix}
    while True:
        page = fs.call_s3("list_multipart_uploads", **kwargs)
        for up in page.get("Uploads", []):
            try:
                last = _last_activity(fs, bucket, up)
            except FileNotFoundError:  # completed or aborted since the listing
                continue
            out.append((f"{bucket}/{up['Key']}?uploadId={up['UploadId']}", last))
        if not page.get("IsTruncated"):
            return out
        kwargs.update(KeyMarker=page["NextKeyMarker"], UploadIdMarker=page["NextUploadIdMarker"])


def _last_activity(fs, bucket: str, up: dict) -> float | None:
    from mvc.core.remote_store import timestamp

    times = [timestamp(up, "Initiated")]
    kwargs = {"Bucket": bucket, "Key": up["Key"], "UploadId": up["UploadId"]}
    while True:
        page = fs.call_s3("list_parts", **kwargs)
        times += [timestamp(part, "LastModified") for part in page.get("Parts", [])]
        if not page.get("IsTruncated"):
            return max((t for t in times if t is not None), default=None)
        kwargs["PartNumberMarker"] = page["NextPartNumberMarker"]


def discard(dst) -> None:
    """An upload that failed: discarded, never completed (None: nothing to abort)."""
    if dst is not None:
        try:
            dst.discard()
        except Exception:  # noqa: BLE001 -- OSError, or botocore's own (the server gone): the
            pass  # upload's own failure is the one to report; fsck --repair aborts it later
        finally:
            dst.closed = True


def gone(exc: BaseException | None) -> bool:
    """True when S3 said the multipart upload is not there (NoSuchUpload: completed or aborted;
    s3fs raises it as a FileNotFoundError, with botocore's error as its cause)."""
    for _ in range(4):
        if exc is None:
            return False
        if getattr(exc, "response", {}).get("Error", {}).get("Code") == "NoSuchUpload" \
                or "specified upload does not exist" in str(exc):
            return True
        exc = exc.__cause__ or exc.__context__
    return False


def lost(fs, dst, errors: tuple[type[BaseException], ...]) -> bool:
    """True when the multipart upload of ``dst`` (an s3fs file being written) is no longer on
    S3: some servers answer a part sent to an aborted upload with a 500, not NoSuchUpload."""
    mpu = getattr(dst, "mpu", None)
    if not mpu:
        return False
    try:
        fs.call_s3("list_parts", Bucket=dst.bucket, Key=dst.key, UploadId=mpu["UploadId"], MaxParts=1)
    except FileNotFoundError:
        return True
    except errors:
        return False
    return False
