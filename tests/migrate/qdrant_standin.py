"""A stand-in for a Qdrant server (none installs from this machine's registries): the REST
routes `chatql export --to qdrant` uses, served by qdrant-client's local mode, which keeps the
points in Qdrant's own models and validates them (ids, vector sizes, payloads). It also checks
what the real server requires of requests (JSON bodies, `wait=true` on upserts, the api-key
header when QDRANT_API_KEY is set) and answers 400 otherwise. Extra routes for the tests:
`POST /collections/{c}/points/query` (nearest points) and `GET /requests` (what was asked).

Usage: python qdrant_standin.py PORT [CERT KEY]   (with CERT and KEY: HTTPS)
"""
import json
import os
import re
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import unquote, urlparse, parse_qs

from qdrant_client import QdrantClient, models

client = QdrantClient(location=":memory:")
requests = []
api_key = os.environ.get("QDRANT_API_KEY")


class Handler(BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def reply(self, status, body):
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def ok(self, result):
        self.reply(200, {"result": result, "status": "ok", "time": 0.0})

    def handle_any(self, method):
        url = urlparse(self.path)
        query = parse_qs(url.query)
        body = None
        length = int(self.headers.get("content-length") or 0)
        if length:
            if self.headers.get("content-type") != "application/json":
                return self.reply(400, {"status": {"error": "content-type must be application/json"}})
            body = json.loads(self.rfile.read(length))
        requests.append({"method": method, "path": url.path, "query": url.query,
                         "points": len((body or {}).get("points", []))})
        if api_key and self.headers.get("api-key") != api_key:
            return self.reply(401, {"status": {"error": "missing or wrong api-key"}})
        if url.path == "/requests":
            return self.reply(200, requests)
        m = re.fullmatch(r"/collections/([^/]+)(/.*)?", url.path)
        if not m:
            return self.reply(404, {"status": {"error": "not found"}})
        name, rest = unquote(m.group(1)), m.group(2) or ""
        try:
            return self.route(method, name, rest, query, body)
        except Exception as e:  # the real server answers bad requests with 4xx too
            return self.reply(400, {"status": {"error": f"{type(e).__name__}: {e}"}})

    def route(self, method, name, rest, query, body):
        exists = client.collection_exists(name)
        if rest == "" and method == "GET":
            if not exists:
                return self.reply(404, {"status": {"error": f"Collection `{name}` doesn't exist!"}})
            info = client.get_collection(name)
            v = info.config.params.vectors
            return self.ok({"config": {"params": {"vectors": {"size": v.size, "distance": v.distance.value}}}})
        if rest == "" and method == "PUT":
            if exists:
                return self.reply(409, {"status": {"error": f"Collection `{name}` already exists!"}})
            v = body["vectors"]
            client.create_collection(name, vectors_config=models.VectorParams(
                size=v["size"], distance=models.Distance(v["distance"])))
            return self.ok(True)
        if not exists:
            return self.reply(404, {"status": {"error": f"Collection `{name}` doesn't exist!"}})
        if rest == "/index" and method == "PUT":
            client.create_payload_index(name, body["field_name"], body["field_schema"])
            return self.ok({"status": "acknowledged"})
        if rest == "/points" and method == "PUT":
            if query.get("wait") != ["true"]:
                return self.reply(400, {"status": {"error": "upserts must wait (wait=true)"}})
            points = [models.PointStruct(**p) for p in body["points"]]
            client.upsert(name, points=points, wait=True)
            return self.ok({"status": "completed", "operation_id": len(requests)})
        if rest == "/points" and method == "POST":
            got = client.retrieve(name, ids=body["ids"], with_payload=body.get("with_payload", True),
                                  with_vectors=body.get("with_vector", False))
            return self.ok([{"id": str(p.id), "payload": p.payload, "vector": p.vector} for p in got])
        if rest == "/points/count" and method == "POST":
            return self.ok({"count": client.count(name, exact=True).count})
        if rest == "/points/query" and method == "POST":
            flt = None
            if "course_name" in body:
                flt = models.Filter(must=[models.FieldCondition(
                    key="course_name", match=models.MatchValue(value=body["course_name"]))])
            res = client.query_points(name, query=body["query"], limit=body.get("limit", 1), query_filter=flt)
            return self.ok({"points": [{"id": str(p.id), "score": p.score} for p in res.points]})
        return self.reply(404, {"status": {"error": f"no route {method} {rest}"}})

    def do_GET(self):
        self.handle_any("GET")

    def do_PUT(self):
        self.handle_any("PUT")

    def do_POST(self):
        self.handle_any("POST")


server = ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), Handler)
if len(sys.argv) > 3:  # HTTPS: certificate and key files
    import ssl

    tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    tls.load_cert_chain(sys.argv[2], sys.argv[3])
    server.socket = tls.wrap_socket(server.socket, server_side=True)
print("ready", flush=True)
server.serve_forever()
