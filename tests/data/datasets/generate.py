"""A small hand-checkable export for the dataset exports (KTO, DPO, annotation samples).
Run: python3 tests/data/datasets/generate.py  -> convos.jsonl (format R rows).

12 conversations, 3 courses x 3 months (every cell of course x month holds at least one):
  d01 ECE120  2024-01-10 "What is a latch?"            up
  d02 ECE120  2024-02-12 "what is a  LATCH"            down (inaccurate)   pairs with d01
  d03 CS101   2024-01-15 "What is a latch?"            down                another course: asked once
  d04 PHYS211 2024-01-20 "Define entropy."             down
  d05 PHYS211 2024-03-05 "define entropy"              down                rated one way only (d04, d05)
  d06 ECE120  2024-03-08 "How do K-maps work?" (not rated), "Can you give an example?" up
  d07 CS101   2024-02-02 "What is recursion?"          up                  asked once
  d08 CS101   2024-03-03 "What is a pointer?"          not rated, no email
  d09 ECE120  2024-01-25 "Explain two's complement"    not rated
  d10 PHYS211 2024-02-14 "What is Newton's second law?" up, "And the third?" down (unclear, "Too vague")
  d11 ECE120  2024-02-28 "What is a latch"             down                left over after pairing
  d12 CS101   2024-02-20 "=SUM(A1), is that a formula?\\nAsk "why"" not rated
Rated answers: 10 (4 up, 6 down); not rated: 4. KTO: 10 lines. DPO: 1 pair (d01 over d02);
3 rated answers to questions asked once (d03, d07, d10 first), 2 rated one way only (d04,
d05), 1 left over (d11), 2 not to a conversation's first question (d06, d10 second).
Questions (annotation rows): 14.
"""
import json
import os


def ctx(name, page, text, course):
    return {"text": text, "readable_filename": name, "course_name ": course,
            "s3_path": f"courses/{course}/{name}", "pagenumber": page, "url": "", "base_url": ""}


def ask(text, contexts=()):
    return {"role": "user", "content": text, "contexts": list(contexts)}


def answer(text, positive=None, category=None, details=None):
    m = {"role": "assistant", "content": text}
    if positive is not None:
        m["feedback"] = {"isPositive": positive, "category": category, "details": details}
    return m


def row(n, cid, at, email, course, messages):
    convo = {"id": cid, "name": f"conversation {n}", "messages": messages,
             "model": {"id": "gpt-4o", "name": "GPT-4o"}, "prompt": f"You are the {course} TA.",
             "temperature": 0.1, "folderId": None, "userEmail": email}
    return {"id": n, "created_at": at, "convo": convo, "convo_id": cid,
            "course_name": course, "user_email": email}


LATCH = "A latch is level-sensitive; a flip-flop is edge-triggered."
rows = [
    row(1, "d01", "2024-01-10T15:00:00+00:00", "u1@x.edu", "ECE120", [
        ask("What is a latch?", [ctx("lec1.pdf", 3, LATCH, "ECE120"), ctx("lec2.pdf", 1, "Gates.", "ECE120")]),
        answer("A latch stores one bit and is level-sensitive.", True)]),
    row(2, "d02", "2024-02-12T15:00:00+00:00", "u2@x.edu", "ECE120", [
        ask("what is a  LATCH", [ctx("lec1.pdf", 3, LATCH, "ECE120")]),
        answer("A latch is a kind of door lock.", False, "inaccurate", "Wrong subject")]),
    row(3, "d03", "2024-01-15T15:00:00+00:00", "u3@x.edu", "CS101", [
        ask("What is a latch?"), answer("A synchronization primitive.", False)]),
    row(4, "d04", "2024-01-20T15:00:00+00:00", "u4@x.edu", "PHYS211", [
        ask("Define entropy."), answer("Entropy is energy.", False)]),
    row(5, "d05", "2024-03-05T15:00:00+00:00", "u5@x.edu", "PHYS211", [
        ask("define entropy"), answer("It is disorder, roughly.", False)]),
    row(6, "d06", "2024-03-08T15:00:00+00:00", "u1@x.edu", "ECE120", [
        ask("How do K-maps work?", [ctx("lec2.pdf", 4, "K-maps group ones.", "ECE120")]),
        answer("You group adjacent ones."),
        ask("Can you give an example?"),
        answer("For f = a'b + ab, the two cells merge into b.", True)]),
    row(7, "d07", "2024-02-02T15:00:00+00:00", "u3@x.edu", "CS101", [
        ask("What is recursion?"), answer("A function that calls itself.", True)]),
    row(8, "d08", "2024-03-03T15:00:00+00:00", None, "CS101", [
        ask("What is a pointer?"), answer("An address of a value.")]),
    row(9, "d09", "2024-01-25T15:00:00+00:00", "u2@x.edu", "ECE120", [
        ask("Explain two's complement"), answer("Invert and add one.")]),
    row(10, "d10", "2024-02-14T15:00:00+00:00", "u4@x.edu", "PHYS211", [
        ask("What is Newton's second law?"), answer("F = ma.", True),
        ask("And the third?"), answer("Something about pairs.", False, "unclear", "Too vague")]),
    row(11, "d11", "2024-02-28T15:00:00+00:00", "u7@x.edu", "ECE120", [
        ask("What is a latch"), answer("No idea.", False)]),
    row(12, "d12", "2024-02-20T15:00:00+00:00", "u6@x.edu", "CS101", [
        ask("=SUM(A1), is that a formula?\nAsk \"why\""), answer("-1 if so.")]),
]

here = os.path.dirname(os.path.abspath(__file__))
with open(os.path.join(here, "convos.jsonl"), "w", encoding="utf-8") as f:
    for r in rows:
        f.write(json.dumps(r, separators=(",", ":")) + "\n")
