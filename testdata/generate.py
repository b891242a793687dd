#!/usr/bin/env python3
"""Writes chatql's test exports: small files in every real shape of ../shared/FORMAT.md.

Run from the repository root: python3 testdata/generate.py. The output is committed; this
script documents how each file was made and lets it be made again byte for byte.
Serializers mimic the real writers: pandas (compact, `\\/`, `\\uXXXX`, 10-decimal floats)
for format R and documents, Python json.dumps (", " and ": ") for format C.
"""
import gzip
import io
import json
import os
import random
import zipfile

OUT = os.path.dirname(os.path.abspath(__file__))
rng = random.Random(20261127)


def pandas(obj):
    """A line as pandas' to_json(orient='records', lines=True) writes it."""
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=True).replace("/", "\\/")


def pydumps(obj):
    """A line as Python's json.dumps writes it (format C)."""
    return json.dumps(obj)


def ctx(text, fname, course, s3, page, url="", base_url="", groups=None, **more):
    c = {"text": text, "readable_filename": fname, "course_name ": course, "s3_path": s3,
         "pagenumber": page, "url": url, "base_url": base_url}
    if groups is not None:
        c["doc_groups"] = groups
    c.update(more)
    return c


def write(name, text, mode="w"):
    kw = {} if "b" in mode else {"newline": ""}
    with open(os.path.join(OUT, name), mode, **kw) as f:
        f.write(text)


# ---------------------------------------------------------------------------------------
# Format R, 2023: contexts on the assistant message, string content, convo.user_email,
# offsets other than UTC, NUL bytes, pagenumber_or_timestamp, an anonymous row.
r2023 = [
    {"id": 101, "created_at": "2023-08-14T16:35:40.508062-07:00",
     "convo": {"id": "0a000000-0000-4000-8000-000000000101", "name": "What is Karnaugh map?",
               "messages": [
                   {"role": "user", "content": "What is a Karnaugh map?", "contexts": []},
                   {"role": "assistant", "content": "A K-map simplifies boolean expressions \U0001F680.",
                    "contexts": [
                        ctx("Karnaugh maps \u2014 a visual method.\u0000", "ECE120_Notes.pdf", "ECE120",
                            "courses/ECE120/kmap-ECE120_Notes.pdf", 42, pagenumber_or_timestamp=42),
                        ctx("Minterms and maxterms.", "ECE120_Notes.pdf", "ECE120",
                            "courses/ECE120/kmap-ECE120_Notes.pdf", ""),
                    ]},
               ],
               "model": {"id": "gpt-4", "name": "GPT-4", "maxLength": 24000, "tokenLimit": 8192},
               "prompt": "You are a helpful TA.", "temperature": 0.3, "folderId": None,
               "user_email": "alice@illinois.edu"},
     "convo_id": "0a000000-0000-4000-8000-000000000101", "course_name": "ECE120",
     "user_email": "alice@illinois.edu"},
    {"id": 102, "created_at": "2023-09-01T10:00:00+00:00",
     "convo": {"id": "0a000000-0000-4000-8000-000000000102", "name": "New Conversation",
               "messages": [
                   {"role": "user", "content": "Explain flip-flops", "contexts": []},
                   {"role": "assistant", "content": "A flip-flop stores one bit.", "contexts": [
                       ctx("Flip-flops are bistable.", "Lecture 9.pdf", "ECE120",
                           "courses/ECE120/ff-Lecture 9.pdf", 3)]},
               ],
               "model": {"id": "gpt-3.5-turbo", "name": "GPT-3.5", "maxLength": 12000, "tokenLimit": 4000},
               "prompt": "You are a helpful TA.", "temperature": -0.0},
     "convo_id": "0a000000-0000-4000-8000-000000000102", "course_name": "ECE120", "user_email": None},
    {"id": 103, "created_at": "2023-10-05T08:30:00.5+00:00",
     "convo": {"id": "0a000000-0000-4000-8000-000000000103", "name": "Empty one",
               "messages": [], "model": {"id": "gpt-4", "name": "GPT-4", "maxLength": 24000,
                                          "tokenLimit": 8192},
               "prompt": "", "temperature": 1, "folderId": "f-1", "user_email": "bob@gmail.com"},
     "convo_id": "0a000000-0000-4000-8000-000000000103", "course_name": "ECE120",
     "user_email": "bob@gmail.com"},
]
write("convos-2023-r.jsonl", "".join(pandas(r) + "\n" for r in r2023))

# ---------------------------------------------------------------------------------------
# Format R, 2024: content parts, contexts on the user message, tools, the large prompt
# fields. Written on Windows: BOM, CRLF and a blank line.
big_prompt = "System: use the contexts.\n" + "\n".join(f"Context {i}: ..." for i in range(20))
r2024 = [
    {"id": 2001, "created_at": "2024-05-01T15:40:44.508062+00:00",
     "convo": {"id": "2b000000-0000-4000-8000-000000002001", "name": "What is a finite state machin...",
               "messages": [
                   {"role": "user", "content": [{"type": "text", "text": "What is a finite state machine?"}],
                    # The first context is the text of chunk 0 of document 1048576.
                    "contexts": [ctx("Chapter 1 \u2026 finite state machines" if i == 0 else f"FSM chunk {i} caf\u00e9",
                                     "ECE120_Notes.pdf", "ECE120",
                                     "courses/ECE120/0b9c-ECE120_Notes.pdf", 19 + i) for i in range(3)],
                    "tools": [], "latestSystemMessage": big_prompt,
                    "finalPromtEngineeredMessage": big_prompt + "\nQuestion: What is a finite state machine?"},
                   {"role": "assistant", "content": "A finite state machine is a model of computation."},
                   {"role": "user", "content": [{"type": "text", "text": "Give an example"}],
                    "contexts": [ctx("Vending machine FSM.", "Lab3.pdf", "ECE120",
                                     "courses/ECE120/lab3-Lab3.pdf", 2)],
                    "tools": [{"id": "t1", "name": "calc", "readableName": "Calculator",
                               "description": "adds", "aiGeneratedArgumentValues": {"a": "1"},
                               "output": {"text": "2"}}]},
                   {"role": "assistant", "content": "A traffic light controller."},
               ],
               "model": {"id": "gpt-4-0125-preview", "name": "GPT-4 Turbo 0125 (128k)",
                         "maxLength": 24000, "tokenLimit": 128000},
               "prompt": "You are a helpful \u2026", "temperature": 0.3, "folderId": None,
               "user_email": "student@illinois.edu"},
     "convo_id": "2b000000-0000-4000-8000-000000002001", "course_name": "ECE120",
     "user_email": "student@illinois.edu"},
    {"id": 2002, "created_at": "2024-06-26T17:26:27.5+00:00",
     "convo": {"id": "2b000000-0000-4000-8000-000000002002", "name": "Thevenin",
               "messages": [
                   {"role": "user", "content": [{"type": "text", "text": "Thevenin?"}], "contexts": []},
                   {"role": "assistant", "content": "Replace the network with a source and a resistor."},
               ],
               "model": {"id": "gpt-4o", "name": "GPT-4o", "maxLength": 24000, "tokenLimit": 128000},
               "prompt": "Be brief.", "temperature": 0.5, "folderId": None},
     "convo_id": "2b000000-0000-4000-8000-000000002002", "course_name": "ECE110", "user_email": None},
]
write("convos-2024-r-windows.jsonl",
      "\ufeff" + "\r\n".join(pandas(r) for r in r2024[:1]) + "\r\n\r\n" + pandas(r2024[1]) + "\r\n")

# ---------------------------------------------------------------------------------------
# Format R, 2025-09+ backend: epoch-ms created_at, summary, convo_analysis_tags, the
# 2024-09+ convo keys, feedback. gzip-compressed.
r2025 = [
    {"id": 900001, "created_at": 1761340896123,
     "convo": {"id": "9c000000-0000-4000-8000-000000900001", "name": "Grading policy",
               "messages": [
                   {"id": "m-1", "role": "user", "content": [{"type": "text", "text": "What is the late policy?"}],
                    "contexts": [ctx("Late work loses 10% per day.", "syllabus.pdf", "cs101",
                                     "courses/cs101/syl-syllabus.pdf", 1, groups=["All Documents", "Policies"])]},
                   {"id": "m-2", "role": "assistant", "content": "10% per day.",
                    "feedback": {"isPositive": False, "category": "incorrect", "details": "It is 5%."},
                    "wasQueryRewritten": False, "queryRewriteText": None},
               ],
               "model": {"id": "gpt-4o-mini", "name": "GPT-4o mini", "tokenLimit": 128000, "enabled": True,
                         "provider": "OpenAI"},
               "prompt": "Answer from the syllabus.", "temperature": 0.1, "folderId": None,
               "userEmail": "carol@illinois.edu", "projectName": "cs101",
               "createdAt": "2025-10-24T21:21:30.000Z", "updatedAt": "2025-10-24T21:21:36.123Z",
               "linkParameters": {"guidedLearning": False, "documentsOnly": True, "systemPromptOnly": False}},
     "convo_id": "9c000000-0000-4000-8000-000000900001", "course_name": "cs101",
     "user_email": "carol@illinois.edu", "summary": "Student asked about late work.",
     "convo_analysis_tags": ["policy"]},
    {"id": 900002, "created_at": 1761427296000,
     "convo": {"id": "9c000000-0000-4000-8000-000000900002", "name": "Hi",
               "messages": [
                   {"id": "m-3", "role": "user", "content": [{"type": "text", "text": "hi"}], "contexts": []},
                   {"id": "m-4", "role": "assistant", "content": "Hello!",
                    "feedback": {"isPositive": True, "category": None, "details": None}},
               ],
               "model": {"id": "gpt-4o-mini", "name": "GPT-4o mini", "tokenLimit": 128000, "enabled": True},
               "prompt": "Answer from the syllabus.", "temperature": 0.1, "folderId": None,
               "projectName": "cs101", "createdAt": "2025-10-25T21:21:36.000Z"},
     "convo_id": "9c000000-0000-4000-8000-000000900002", "course_name": "cs101", "user_email": None,
     "summary": None, "convo_analysis_tags": None},
]
with open(os.path.join(OUT, "convos-2025-r-epoch.jsonl.gz"), "wb") as f:
    f.write(gzip.compress("".join(pandas(r) + "\n" for r in r2025).encode(), mtime=0))

# ---------------------------------------------------------------------------------------
# Format C in the current Analysis-page zip, with the members that are not exports.
c_lines = [
    {"id": "c1000000-0000-4000-8000-000000000001", "name": "Explain Thevenin equivalent c...",
     "messages": [
         {"id": "u-1", "role": "user", "content": [
             {"type": "text", "text": "Explain this circuit"},
             {"type": "image_url", "image_url": {"url": "https://bucket.s3.amazonaws.com/x/img.png?X-Amz-Algorithm=AWS4"}},
             {"type": "text", "text": "Image description: A resistor network"}],
          "contexts": [ctx("The Thevenin equivalent \u2026", "Lecture_07.pdf", "ECE110",
                           "courses/ECE110/3f2a-Lecture_07.pdf", 4, groups=["All Documents"])],
          "tools": []},
         {"id": "a-1", "role": "assistant", "content": "To find the Thevenin equivalent, ...",
          "feedback": {"isPositive": True, "category": None, "details": None},
          "wasQueryRewritten": False, "queryRewriteText": None},
     ],
     "model": {"id": "gpt-4o", "name": "GPT-4o", "tokenLimit": 128000, "enabled": True},
     "prompt": "Be a TA.", "temperature": 0.5, "folderId": None, "userEmail": "dave@illinois.edu",
     "projectName": "ECE110", "createdAt": "2025-02-12T18:46:25.000Z"},
    # Reloaded between 2024-09 and 2025-02: contexts are only chunk references.
    {"id": "c1000000-0000-4000-8000-000000000002", "name": "Ohm's law",
     "messages": [
         {"id": "u-2", "role": "user", "content": [{"type": "text", "text": "State Ohm's law"}],
          "contexts": [{"chunk_index": "courses/ECE110/ohm-notes.pdf_3"},
                       {"url_chunk_index": "https://ece110.org/ohm_0"}],
          "created_at": "2024-10-01T12:00:00+00:00"},
         {"id": "a-2", "role": "assistant", "content": [{"type": "text", "text": "V = IR."}],
          "created_at": "2024-10-01T12:00:05.25+00:00"},
     ],
     "model": {"id": "gpt-4o", "name": "GPT-4o", "tokenLimit": 128000, "enabled": True},
     "prompt": "Be a TA.", "temperature": 0.5, "folderId": None, "userEmail": "dave@illinois.edu",
     "projectName": "ECE110", "createdAt": "2024-10-01T11:59:00.000Z",
     "updatedAt": "2024-10-01T12:00:05.000Z"},
    # Reloaded after 2025-02: truncated text; a file part, an unknown part; agent mode. No
    # projectName and no email: the course comes from the contexts.
    {"id": "c1000000-0000-4000-8000-000000000003", "name": "Agent run",
     "messages": [
         {"id": "u-3", "role": "user", "content": [
             {"type": "text", "text": "Summarize the attached"},
             {"type": "file", "fileName": "hw1.pdf", "fileUrl": "s3://b/hw1.pdf", "fileType": "application/pdf", "fileSize": 12345},
             {"type": "mystery_part", "payload": 1}],
          "contexts": [
              {"readable_filename": "hw1.pdf", "pagenumber": 1, "s3_path": "courses/ECE110/hw1.pdf",
               "url": "", "text": "Homework 1 asks you to compute the equivalent resistance of th...",
               "chunk_index": "courses/ECE110/hw1.pdf_0"},
              ctx("Series resistors add.", "Lecture_02.pdf", "ECE110", "courses/ECE110/l2-Lecture_02.pdf", 7,
                  base_url=None, id=77, course_name="ECE110", conversation_id="c1000000-0000-4000-8000-000000000003")],
          "imageDescription": "", "imageUrls": []},
         {"id": "a-3", "role": "assistant", "content": "It asks for R_eq.", "agentStepNumber": 2,
          "agentEvents": [{"type": "tool", "name": "search"}]},
     ],
     "model": {"id": "gpt-4.1", "name": "GPT-4.1", "tokenLimit": 1000000, "enabled": True},
     "prompt": "Be a TA.", "temperature": 0.2, "folderId": "folder-9", "agentModeEnabled": True,
     "createdAt": "2025-11-20T09:00:00.000Z"},
    # 2024-09 era with the old key name for the email.
    {"id": "c1000000-0000-4000-8000-000000000004", "name": "Nodal analysis",
     "messages": [
         {"role": "user", "content": [{"type": "text", "text": "What is nodal analysis?"}], "contexts": []},
         {"role": "assistant", "content": "KCL at each node."},
         {"role": "user", "content": [{"type": "text", "text": "And mesh?"}], "contexts": []},
         {"role": "assistant", "content": "KVL around each loop."},
     ],
     "model": {"id": "gpt-4o", "name": "GPT-4o", "tokenLimit": 128000, "enabled": True},
     "prompt": "Be a TA.", "temperature": 0.5, "user_email": "erin@illinois.edu", "projectName": "ECE110"},
]
buf = io.BytesIO()
with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
    def add(name, data):
        info = zipfile.ZipInfo(name, date_time=(2025, 11, 21, 0, 0, 0))
        info.compress_type = zipfile.ZIP_DEFLATED
        z.writestr(info, data)
    add("ECE110-conversation-export.jsonl", "".join(pydumps(c) + "\n" for c in c_lines))
    add("ECE110-conversation-export.xlsx", b"PK\x03\x04 not really a workbook")
    add("markdown export/c1000000.md", "# Explain Thevenin\n")
    add("media_files/img.png", b"\x89PNG\r\n\x1a\n")
    add("error.log", "")
write("ECE110-convos.zip", buf.getvalue(), "wb")

# ---------------------------------------------------------------------------------------
# 2024-02/03: an array of the first batch, then lines on the same physical line.
arr = [dict(r2023[0], id=3001, convo_id="3a000000-0000-4000-8000-000000003001",
            convo=dict(r2023[0]["convo"], id="3a000000-0000-4000-8000-000000003001")),
       dict(r2023[1], id=3002, convo_id="3a000000-0000-4000-8000-000000003002",
            convo=dict(r2023[1]["convo"], id="3a000000-0000-4000-8000-000000003002"))]
tail = dict(r2024[1], id=3003, convo_id="3a000000-0000-4000-8000-000000003003",
            convo=dict(r2024[1]["convo"], id="3a000000-0000-4000-8000-000000003003"))
write("convos-2024-03-array.json",
      "[" + ",".join(pandas(r) for r in arr) + "]" + pandas(tail) + "\n" + pandas(
          dict(tail, id=3004, convo_id="3a000000-0000-4000-8000-000000003004",
               convo=dict(tail["convo"], id="3a000000-0000-4000-8000-000000003004"))) + "\n")

# A pretty-printed top-level array (an old `_convo_history.json`).
write("ECE120_5b1e_convo_history.json", json.dumps([
    dict(r2023[2], id=4001, convo_id="4a000000-0000-4000-8000-000000004001",
         convo=dict(r2023[2]["convo"], id="4a000000-0000-4000-8000-000000004001"))], indent=2) + "\n")

# ---------------------------------------------------------------------------------------
# 2023-11 to 2024-02: CSV with a Python-repr convo cell (pandas to_csv keeps its index).
def csv_cell(s):
    return '"' + s.replace('"', '""') + '"' if any(c in s for c in ',"\n') else s

csv_rows = [
    (5001, "2023-12-01T10:00:00+00:00", {
        "id": "5c000000-0000-4000-8000-000000005001", "name": "CSV era",
        "messages": [{"role": "user", "content": [{"type": "text", "text": "What's a mux?\nIt's \"multiplexer\"?"}], "contexts": [
            ctx("A multiplexer selects one input.", "mux.pdf", "ECE120", "courses/ECE120/mux.pdf", 5)]},
            {"role": "assistant", "content": "Yes \u2014 it selects.", "contexts": []}],
        "model": {"id": "gpt-4", "name": "GPT-4", "maxLength": 24000, "tokenLimit": 8192},
        "prompt": "TA", "temperature": 0.7, "folderId": None, "user_email": "frank@illinois.edu"},
     "5c000000-0000-4000-8000-000000005001", "ECE120", "frank@illinois.edu"),
    (5002, "2024-01-15T09:00:00+00:00", {
        "id": "5c000000-0000-4000-8000-000000005002", "name": "Anonymous CSV",
        "messages": [{"role": "user", "content": [{"type": "text", "text": "hello"}], "contexts": []},
                     {"role": "assistant", "content": "Hi!", "contexts": []}],
        "model": {"id": "gpt-4", "name": "GPT-4", "maxLength": 24000, "tokenLimit": 8192},
        "prompt": "TA", "temperature": 0.7, "folderId": None, "isPublic": True},
     "5c000000-0000-4000-8000-000000005002", "ECE120", None),
]
lines = [",id,created_at,convo,convo_id,course_name,user_email"]
for i, (rid, created, convo, cid, course, email) in enumerate(csv_rows):
    lines.append(",".join([str(i), str(rid), created, csv_cell(repr(convo)), cid, course, email or ""]))
lines.append("2,5003,2024-01-16T09:00:00+00:00,\"{'id': 'broken', 'messages': [\",5c-broken,ECE120,")
write("ECE120_7f3a_convo_history.csv", "\n".join(lines) + "\n")

# ---------------------------------------------------------------------------------------
# Documents: 1536-d and 768-d embeddings at 10 decimals, a web page, a video with
# timestamps, a document from before chunk_index, and the 2025-10 placeholder.
def emb(dim):
    return "[" + ",".join(f"{rng.uniform(-0.05, 0.05):.10f}".rstrip("0").rstrip(".") or "0"
                          for _ in range(dim)) + "]"


def doc_line(fields, chunks):
    """pandas-style document line; embeddings are spliced in as written numbers."""
    obj = dict(fields)
    obj["contexts"] = [dict(c, embedding="@EMB%d@" % i) for i, c in enumerate(chunks)]
    obj["base_url"] = fields.get("base_url", "")
    obj.pop("base_url")
    obj["base_url"] = fields.get("base_url", "")
    text = pandas(obj)
    for i, c in enumerate(chunks):
        text = text.replace('"@EMB%d@"' % i, c["embedding"])
    return text


docs = [
    doc_line({"id": 1048576, "created_at": "2024-05-01T15:40:44.123456+00:00",
              "s3_path": "courses/ECE120/0b9c-ECE120_Notes.pdf", "readable_filename": "ECE120_Notes.pdf",
              "course_name": "ECE120", "url": ""},
             [{"text": "Chapter 1 \u2026 finite state machines", "embedding": emb(1536), "timestamp": "",
               "pagenumber": 1, "chunk_index": 0},
              {"text": "Chapter 2: Karnaugh maps", "embedding": emb(1536), "timestamp": "", "pagenumber": 2,
               "chunk_index": 1}]),
    doc_line({"id": 1048577, "created_at": "2024-05-02T10:00:00+00:00", "s3_path": "",
              "readable_filename": "Ohm's law - ECE110", "course_name": "ECE110",
              "url": "https://ece110.org/ohm", "base_url": "https://ece110.org"},
             [{"text": "V = IR", "embedding": emb(768), "timestamp": "", "pagenumber": "", "chunk_index": 0}]),
    doc_line({"id": 1048578, "created_at": "2023-10-01T00:00:00+00:00",
              "s3_path": "courses/ECE120/lec1.mp4", "readable_filename": "lec1.mp4", "course_name": "ECE120",
              "url": ""},
             [{"text": "Welcome to ECE 120", "embedding": emb(1536), "timestamp": 0, "pagenumber": ""},
              {"text": "Today: binary", "embedding": emb(1536), "timestamp": 1, "pagenumber": ""}]),
]
write("ECE120_documents.jsonl", "".join(d + "\n" for d in docs))

placeholder = pandas({"id": 2300411, "created_at": 1762463977000, "s3_path": "courses/my-project/5d1e-syllabus.pdf",
                      "readable_filename": "syllabus.pdf", "course_name": "my-project", "url": "",
                      "contexts": [{"text": "", "embedding": "", "timestamp": "", "pagenumber": ""}],
                      "base_url": ""})
try:
    import zstandard
    data = zstandard.ZstdCompressor(level=3).compress((placeholder + "\n").encode())
    write("my-project_documents.jsonl.zst", data, "wb")
except ImportError:
    raise SystemExit("pip install zstandard to write the .zst test file")

# ---------------------------------------------------------------------------------------
# A later re-export of the same ECE120 project: one conversation grew (kept), one is the
# same (dropped), one is new.
grown = json.loads(json.dumps(r2023[0]))
grown["convo"]["messages"] += [{"role": "user", "content": "Thanks", "contexts": []},
                               {"role": "assistant", "content": "You're welcome!", "contexts": []}]
new = dict(r2023[1], id=104, convo_id="0a000000-0000-4000-8000-000000000104",
           convo=dict(r2023[1]["convo"], id="0a000000-0000-4000-8000-000000000104"))
os.makedirs(os.path.join(OUT, "reexport"), exist_ok=True)
write("reexport/ECE120-convos-2023-11.jsonl", "".join(pandas(r) + "\n" for r in [grown, r2023[1], new]))

# ---------------------------------------------------------------------------------------
# Broken lines among good ones.
good = pandas(dict(r2023[1], id=6001, convo_id="6a000000-0000-4000-8000-000000006001",
                   convo=dict(r2023[1]["convo"], id="6a000000-0000-4000-8000-000000006001")))
with open(os.path.join(OUT, "broken.jsonl"), "wb") as f:
    f.write(good[: len(good) // 2].encode() + b"\n")          # 1: truncated
    f.write(b'{"id": 1, "text": "caf\xe9 latin-1"}\n')        # 2: invalid UTF-8
    f.write(b"not json at all\n")                               # 3: not JSON
    f.write(good.encode() + b"\n")                              # 4: fine
    f.write(b'{"hello": "world"}\n')                            # 5: no known kind
    f.write(b"   \n")                                           # 6: blank
    f.write(b'{"convo": {"id": "x", "messages": []}} trailing\n')  # 7: trailing garbage
    f.write(good.replace("6001", "6002").encode())              # 8: fine, no final newline
