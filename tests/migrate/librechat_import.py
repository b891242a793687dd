"""Reads a ChatGPT conversations.json by the rules of LibreChat's importer
(api/server/utils/import/importers.js: getImporter, importChatGptConvo, processConversation,
formatMessageText), and prints what it would import as JSON:
{"imported": [{title, created, messages: [{id, parent, sender, model, text, user}]}]}.
Run by tests/it/migrate.rs. Our restatement, not LibreChat's code.

The rules, restated: a top-level array is a ChatGPT file. Per conversation, every mapping
node whose message has `content.content_type` gets a new id; nodes without a message are
dropped; system messages are skipped but stay reachable as parents; a message's parent is
its nearest ancestor with a message that is not a system message (else no parent). The text
of a `text` message is `parts` joined by a space; an assistant's sender is `GPT-x` from
`metadata.model_slug` `gpt-x`, else the slug, else LibreChat's default model. Reading
`metadata.model_slug` or `author.role` of a message without them throws, which fails the
whole file (LibreChat logs it and imports nothing): so does this script. The conversation's
date is `create_time * 1000` milliseconds (0 when it is null).
"""
import json
import re
import sys

NO_PARENT = "00000000-0000-0000-0000-000000000000"
DEFAULT_MODEL = "gpt-4o-mini"


def text_of(message):
    content = message["content"]
    if content["content_type"] == "text" and content.get("parts") is not None:
        return " ".join(content["parts"])
    if content["content_type"] == "code":
        return f"```{content['language']}\n{content['text']}\n```"
    return "```json\n" + json.dumps(content, indent=2) + "\n```"


def process(convo):
    mapping = convo["mapping"]
    new_ids = {k: f"m{i}" for i, (k, n) in enumerate(mapping.items())
               if n.get("message") and n["message"]["content"].get("content_type")}

    def parent_of(pid):
        if not pid or pid not in new_ids:
            return NO_PARENT
        msg = mapping[pid].get("message")
        if not msg:
            return NO_PARENT
        if msg.get("author", {}).get("role") == "system":
            return parent_of(mapping[pid].get("parent"))
        return new_ids[pid]

    out = []
    for k, node in mapping.items():
        msg = node.get("message")
        if not msg:
            new_ids.pop(k, None)
            continue
        role = msg["author"]["role"]  # a KeyError here is LibreChat's TypeError
        if role == "system":
            continue
        model = msg["metadata"].get("model_slug") or DEFAULT_MODEL
        user = role == "user"
        sender = "user"
        if not user:
            m = re.search(r"gpt-(.+)", model, re.I)
            sender = f"GPT-{m.group(1)}" if m else model
        out.append({"id": new_ids.get(k), "parent": parent_of(node.get("parent")),
                    "sender": sender, "model": model, "text": text_of(msg), "user": user})
    # JavaScript's null * 1000 is 0: the Unix epoch.
    return {"title": convo["title"], "created": (convo["create_time"] or 0) * 1000, "messages": out}


def main():
    data = json.load(open(sys.argv[1], encoding="utf-8"))
    if not isinstance(data, list):
        raise SystemExit("not a ChatGPT export: LibreChat would look for another format")
    json.dump({"imported": [process(c) for c in data]}, sys.stdout)


main()
