"""A small hand-checkable export for the insight reports (time zones, the 7-day trend, the
day x hour heatmap, feedback by model and document, query rewriting, tokens and cost).
Run: python3 tests/data/insight/generate.py  -> convos.jsonl (format R rows, pandas style).

Conversations (UTC -> America/Chicago):
  c1 2024-03-10T07:30Z -> Sun 2024-03-10 01:30 CST  a@x.edu ECE120 gpt-4o       1 turn, thumbs down (inaccurate), not rewritten
  c2 2024-03-11T13:30Z -> Mon 2024-03-11 08:30 CDT  b@x.edu ECE120 gpt-4o-mini  2 turns: up, then down (incomplete_request), rewritten
  c3 2024-03-06T03:00Z -> Tue 2024-03-05 21:00 CST  a@x.edu ECE120 gpt-4o       1 turn, thumbs up
  c4 2024-03-15T16:00Z -> Fri 2024-03-15 11:00 CDT  c@x.edu CS101  claude-3-5-sonnet 1 turn, not rated
  c5 2024-02-20T15:00Z -> Tue 2024-02-20 09:00 CST  b@x.edu ECE120 gpt-4o       1 turn, thumbs down (unclear), rewritten, final prompt kept
Documents cited by the rated answers' questions: lec1.pdf (c1, c2 turn 1, c3), lec2.pdf (c1, c2 turn 2), lec3.pdf (c5).
"""
import json
import os


def ctx(name, page, text, course="ECE120"):
    return {"text": text, "readable_filename": name, "course_name ": course,
            "s3_path": f"courses/{course}/{name}", "pagenumber": page, "url": "", "base_url": ""}


def answer(text, positive=None, category=None, details=None, rewritten=None):
    m = {"role": "assistant", "content": text}
    if positive is not None:
        m["feedback"] = {"isPositive": positive, "category": category, "details": details}
    if rewritten is not None:
        m["wasQueryRewritten"] = rewritten
    return m


def row(n, cid, at, email, course, model, messages, prompt="You are a helpful TA."):
    convo = {"id": cid, "name": f"conversation {n}", "messages": messages,
             "model": {"id": model, "name": model}, "prompt": prompt, "temperature": 0.1,
             "folderId": None, "userEmail": email}
    return {"id": n, "created_at": at, "convo": convo, "convo_id": cid,
            "course_name": course, "user_email": email}


L1 = "A D flip-flop samples its input on the rising clock edge."
L2 = "Karnaugh maps group adjacent ones to minimize sum-of-products expressions."
L3 = "Two's complement represents negative numbers by inverting bits and adding one."

rows = [
    row(1, "c1", "2024-03-10T07:30:00+00:00", "a@x.edu", "ECE120", "gpt-4o", [
        {"role": "user", "content": "When does a D flip-flop change?",
         "contexts": [ctx("lec1.pdf", 3, L1), ctx("lec2.pdf", 1, L2)]},
        answer("On the falling edge.", False, "inaccurate", "It is the rising edge!", False),
    ]),
    row(2, "c2", "2024-03-11T13:30:00+00:00", "b@x.edu", "ECE120", "gpt-4o-mini", [
        {"role": "user", "content": "What is a flip-flop?", "contexts": [ctx("lec1.pdf", 3, L1)]},
        answer("A one-bit memory element clocked by an edge.", True),
        {"role": "user", "content": "How do I use a K-map?", "contexts": [ctx("lec2.pdf", 1, L2)]},
        answer("Group the ones.", False, "incomplete_request", "Too short", True),
    ]),
    row(3, "c3", "2024-03-06T03:00:00+00:00", "a@x.edu", "ECE120", "gpt-4o", [
        {"role": "user", "content": "Explain edge triggering.", "contexts": [ctx("lec1.pdf", 4, L1)]},
        answer("Edge-triggered devices change state only at a clock edge.", True),
    ]),
    row(4, "c4", "2024-03-15T16:00:00+00:00", "c@x.edu", "CS101", "claude-3-5-sonnet", [
        {"role": "user", "content": "What is recursion?", "contexts": []},
        answer("A function calling itself."),
    ]),
    row(5, "c5", "2024-02-20T15:00:00+00:00", "b@x.edu", "ECE120", "gpt-4o", [
        {"role": "user", "content": "How are negative numbers stored?",
         "contexts": [ctx("lec3.pdf", 2, L3)],
         "finalPromtEngineeredMessage": "Context: " + L3 + "\nQuestion: How are negative numbers stored?"},
        answer("They are stored with a sign.", False, "unclear", None, True),
    ]),
]

here = os.path.dirname(os.path.abspath(__file__))
with open(os.path.join(here, "convos.jsonl"), "w", encoding="utf-8") as f:
    for r in rows:
        f.write(json.dumps(r, separators=(",", ":")) + "\n")
