"""Google's own Python storage client (google-cloud-storage) against the emulator's storage.

Run by scripts/check-python-storage-client.sh, which starts the emulator and sets
STORAGE_EMULATOR_HOST. Each step is one the client makes for an operation the emulator offers:
small uploads (multipart), large ones (resumable, in chunks, the last one checked against the
object's crc32c), downloads checked against the object's hashes, metadata, listing, deletes,
and generation preconditions. Exits non-zero, saying which step failed, when one does.
"""

import base64
import hashlib
import os
import sys

import google_crc32c
from google.api_core import exceptions
from google.auth.credentials import AnonymousCredentials
from google.cloud import storage


def crc32c(data: bytes) -> str:
    return base64.b64encode(google_crc32c.Checksum(data).digest()).decode()


def md5(data: bytes) -> str:
    return base64.b64encode(hashlib.md5(data).digest()).decode()


def main() -> None:
    assert os.environ.get("STORAGE_EMULATOR_HOST"), "STORAGE_EMULATOR_HOST is not set"
    client = storage.Client(project="emulator", credentials=AnonymousCredentials())
    bucket = client.bucket("py-bucket")

    # A small upload: uploadType=multipart; the answer's hashes are checked by us.
    small = bucket.blob("dir/small.txt")
    small.upload_from_string(b"123456789", content_type="text/plain")
    small.reload()
    assert small.crc32c == crc32c(b"123456789") == "4waSgw==", small.crc32c
    assert small.md5_hash == md5(b"123456789"), small.md5_hash
    assert small.size == 9, small.size

    # A large upload: resumable, 256 KiB chunks; the client refuses a finished upload whose
    # metadata has no crc32c, or the wrong one.
    data = bytes((i * 7 + i // 251) % 256 for i in range(700 * 1024 + 3))
    big = bucket.blob("dir/big.bin", chunk_size=256 * 1024)
    big.upload_from_string(data, checksum="crc32c")
    big.reload()
    assert big.crc32c == crc32c(data), (big.crc32c, crc32c(data))
    assert big.md5_hash == md5(data)

    # Downloads, checked by the client against x-goog-hash (whole object), and a range.
    assert bucket.blob("dir/big.bin").download_as_bytes(checksum="crc32c") == data
    assert bucket.blob("dir/big.bin").download_as_bytes(checksum="md5") == data
    assert bucket.blob("dir/big.bin").download_as_bytes(start=10, end=19) == data[10:20]
    assert bucket.blob("dir/small.txt").download_as_text() == "123456789"

    # Names Cloud Storage's flat namespace holds.
    for name in ["a", "a/b", "/lead", "a//b"]:
        bucket.blob(name).upload_from_string(name.encode())
    for name in ["a", "a/b", "/lead", "a//b"]:
        assert bucket.blob(name).download_as_bytes() == name.encode(), name

    # Listing by prefix, across pages.
    names = [b.name for b in client.list_blobs("py-bucket", prefix="dir/", max_results=10, page_size=1)]
    assert names == ["dir/big.bin", "dir/small.txt"], names
    everything = [b.name for b in client.list_blobs("py-bucket")]
    assert everything == sorted(["dir/big.bin", "dir/small.txt", "a", "a/b", "/lead", "a//b"]), everything

    # Generation preconditions.
    generation = bucket.get_blob("dir/small.txt").generation
    try:
        bucket.blob("dir/small.txt").upload_from_string(b"x", if_generation_match=0)
        raise AssertionError("an upload only if absent replaced an object")
    except exceptions.PreconditionFailed:
        pass
    bucket.blob("dir/small.txt").upload_from_string(b"y", if_generation_match=generation)
    assert bucket.blob("dir/small.txt").download_as_bytes() == b"y"

    # Deletes.
    bucket.blob("dir/big.bin").delete()
    assert bucket.get_blob("dir/big.bin") is None
    try:
        bucket.blob("dir/big.bin").delete()
        raise AssertionError("deleting a deleted object succeeded")
    except exceptions.NotFound:
        pass
    print("google-cloud-storage: every step passed")


if __name__ == "__main__":
    try:
        main()
    except Exception as err:  # noqa: BLE001 - the step and the error, for the script's caller
        print(f"google-cloud-storage against the emulator failed: {err!r}", file=sys.stderr)
        raise
