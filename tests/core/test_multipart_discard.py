"""An S3 upload that failed is discarded (aborted) best effort: when the server is gone, the
abort's own error must not replace the upload's (a push said 'internal error
(EndpointConnectionError)' when the S3 server stopped mid-pack, probe S). A real moto server
in this process, stopped while a multipart upload is open."""

from __future__ import annotations

import socket

import pytest

moto_server = pytest.importorskip("moto.server", reason="moto[server] is in the test extra: pip install -e '.[test]'")


def test_discarding_an_upload_whose_server_is_gone_raises_nothing(monkeypatch):
    import boto3
    import s3fs

    from mvc.core import multipart

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = moto_server.ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    url = f"http://127.0.0.1:{port}"
    for key, value in (("AWS_ACCESS_KEY_ID", "x"), ("AWS_SECRET_ACCESS_KEY", "x"), ("AWS_DEFAULT_REGION", "us-east-1")):
        monkeypatch.setenv(key, value)
    try:
        boto3.client("s3", endpoint_url=url).create_bucket(Bucket="bucket1")
        fs = s3fs.S3FileSystem(client_kwargs={"endpoint_url": url}, skip_instance_cache=True,
                               config_kwargs={"retries": {"max_attempts": 1}, "connect_timeout": 1})
        upload = fs.open("bucket1/pack", "wb", block_size=5 << 20)
        upload.write(b"x" * (6 << 20))
        upload.flush()  # the multipart upload is open on the server, one part sent
        assert upload.mpu is not None
    finally:
        server.stop()
    multipart.discard(upload)  # botocore's EndpointConnectionError, which is no OSError, escaped
    assert upload.closed
