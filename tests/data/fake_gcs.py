"""A loopback stand-in for the XML API of Google Cloud Storage, as the `object_store`
crate's GCS client speaks it (tests/gcs.rs): buckets, objects with generations, ranged
reads, `x-goog-if-generation-match` (0 = create only if absent: a Delta commit), V2
listing, and multipart uploads. No GCS emulator that honours preconditions installs from
the registries this project uses, so this one is small, in memory, and only as strict as
the tests need. Usage: python3 fake_gcs.py PORT
"""

import hashlib
import re
import sys
import threading
import time
import uuid
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, unquote, urlsplit
from xml.sax.saxutils import escape

LOCK = threading.Lock()
BUCKETS = {}  # name -> {key: (bytes, generation, mtime)}
UPLOADS = {}  # upload id -> (bucket, key, {part: bytes})
GENERATION = [1]


def iso(t):
    return time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime(t))


def etag(data):
    return '"%s"' % hashlib.md5(data).hexdigest()


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def send(self, status, body=b"", headers=None):
        self.send_response(status)
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def error(self, status, code):
        body = ("<?xml version='1.0' encoding='UTF-8'?><Error><Code>%s</Code></Error>" % code).encode()
        self.send(status, body, {"Content-Type": "application/xml"})

    def parse(self):
        url = urlsplit(self.path)
        parts = url.path.lstrip("/").split("/", 1)
        bucket = unquote(parts[0])
        key = unquote(parts[1]) if len(parts) > 1 else ""
        query = parse_qs(url.query, keep_blank_values=True)
        return bucket, key, query

    def body(self):
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(n) if n else b""

    def do_PUT(self):
        bucket, key, q = self.parse()
        data = self.body()
        with LOCK:
            if not key:
                BUCKETS.setdefault(bucket, {})
                return self.send(200)
            if bucket not in BUCKETS:
                return self.error(404, "NoSuchBucket")
            if "uploadId" in q:
                upload = UPLOADS.get(q["uploadId"][0])
                if upload is None:
                    return self.error(404, "NoSuchUpload")
                upload[2][int(q["partNumber"][0])] = data
                return self.send(200, b"", {"ETag": etag(data)})
            match = self.headers.get("x-goog-if-generation-match")
            objects = BUCKETS[bucket]
            if match is not None:
                current = objects[key][1] if key in objects else 0
                if str(current) != match:
                    return self.error(412, "PreconditionFailed")
            self.store(objects, key, data)
            return self.send(200, b"", self.object_headers(objects[key]))

    def store(self, objects, key, data):
        GENERATION[0] += 1
        objects[key] = (data, GENERATION[0], time.time())

    def object_headers(self, obj):
        data, generation, mtime = obj
        return {
            "ETag": etag(data),
            "Last-Modified": formatdate(mtime, usegmt=True),
            "x-goog-generation": str(generation),
        }

    def do_POST(self):
        bucket, key, q = self.parse()
        data = self.body()
        with LOCK:
            if bucket not in BUCKETS:
                return self.error(404, "NoSuchBucket")
            if "uploads" in q:
                upload_id = uuid.uuid4().hex
                UPLOADS[upload_id] = (bucket, key, {})
                body = (
                    "<?xml version='1.0' encoding='UTF-8'?><InitiateMultipartUploadResult>"
                    "<Bucket>%s</Bucket><Key>%s</Key><UploadId>%s</UploadId>"
                    "</InitiateMultipartUploadResult>" % (escape(bucket), escape(key), upload_id)
                ).encode()
                return self.send(200, body, {"Content-Type": "application/xml"})
            if "uploadId" in q:
                upload = UPLOADS.pop(q["uploadId"][0], None)
                if upload is None:
                    return self.error(404, "NoSuchUpload")
                numbers = [int(n) for n in re.findall(rb"<PartNumber>(\d+)</PartNumber>", data)]
                whole = b"".join(upload[2][n] for n in numbers)
                objects = BUCKETS[bucket]
                self.store(objects, key, whole)
                headers = self.object_headers(objects[key])
                body = (
                    "<?xml version='1.0' encoding='UTF-8'?><CompleteMultipartUploadResult>"
                    "<Bucket>%s</Bucket><Key>%s</Key><ETag>%s</ETag>"
                    "</CompleteMultipartUploadResult>"
                    % (escape(bucket), escape(key), escape(headers["ETag"]))
                ).encode()
                headers["Content-Type"] = "application/xml"
                return self.send(200, body, headers)
        return self.error(400, "InvalidArgument")

    def do_DELETE(self):
        bucket, key, q = self.parse()
        self.body()
        with LOCK:
            if "uploadId" in q:
                UPLOADS.pop(q["uploadId"][0], None)
                return self.send(204)
            objects = BUCKETS.get(bucket)
            if objects is None:
                return self.error(404, "NoSuchBucket")
            if objects.pop(key, None) is None:
                return self.error(404, "NoSuchKey")
            return self.send(204)

    def do_HEAD(self):
        self.do_GET()

    def do_GET(self):
        bucket, key, q = self.parse()
        with LOCK:
            objects = BUCKETS.get(bucket)
            if objects is None:
                return self.error(404, "NoSuchBucket")
            if not key:
                return self.list(objects, bucket, q)
            obj = objects.get(key)
        if obj is None:
            return self.error(404, "NoSuchKey")
        data = obj[0]
        headers = self.object_headers(obj)
        rng = self.headers.get("Range")
        if rng:
            m = re.match(r"bytes=(\d+)-(\d*)", rng)
            start = int(m.group(1))
            end = int(m.group(2)) if m.group(2) else len(data) - 1
            end = min(end, len(data) - 1)
            if start >= len(data):
                return self.error(416, "InvalidRange")
            headers["Content-Range"] = "bytes %d-%d/%d" % (start, end, len(data))
            return self.send(206, data[start : end + 1], headers)
        return self.send(200, data, headers)

    def list(self, objects, bucket, q):
        prefix = q.get("prefix", [""])[0]
        delimiter = q.get("delimiter", [""])[0]
        after = q.get("start-after", [""])[0]
        token = q.get("continuation-token", [""])[0]
        start = max(after, token)
        keys = sorted(k for k in objects if k.startswith(prefix) and k > start)
        contents, prefixes = [], set()
        for k in keys:
            rest = k[len(prefix) :]
            if delimiter and delimiter in rest:
                prefixes.add(prefix + rest.split(delimiter, 1)[0] + delimiter)
            else:
                contents.append(k)
        page, more = contents[:1000], len(contents) > 1000
        xml = ["<?xml version='1.0' encoding='UTF-8'?><ListBucketResult>"]
        xml.append("<Name>%s</Name><Prefix>%s</Prefix>" % (escape(bucket), escape(prefix)))
        for k in page:
            data, _, mtime = objects[k]
            xml.append(
                "<Contents><Key>%s</Key><LastModified>%s</LastModified><ETag>%s</ETag>"
                "<Size>%d</Size></Contents>" % (escape(k), iso(mtime), escape(etag(data)), len(data))
            )
        for p in sorted(prefixes):
            xml.append("<CommonPrefixes><Prefix>%s</Prefix></CommonPrefixes>" % escape(p))
        if more:
            xml.append("<NextContinuationToken>%s</NextContinuationToken>" % escape(page[-1]))
        xml.append("</ListBucketResult>")
        self.send(200, "".join(xml).encode(), {"Content-Type": "application/xml"})


if __name__ == "__main__":
    # Port 0: the system picks a free one, printed once the socket listens, so that tests
    # running at once never race for a port.
    server = ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), Handler)
    server.daemon_threads = True
    print(server.server_address[1], flush=True)
    server.serve_forever()
