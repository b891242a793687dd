"""Reads a ChatGPT conversations.json by the rules of Open WebUI's importer
(src/lib/utils/index.ts: convertOpenAIChats, convertOpenAIMessages, validateChat), and
prints what it would import as JSON: [{id, title, timestamp, messages: [{role, content}]}]
plus the number of conversations it would refuse. Run by tests/it/migrate.rs.

The rules, restated: walk `mapping` in key order (JavaScript puts integer-like keys first);
skip nodes while none was taken yet and the node has no message or an empty first part;
each taken node's parent is the node taken before it; role is `user` or else `assistant`;
content is parts[0] or content.text or ''. A chat is refused when it has no message, its
last message has children, its first has a parent, or a content is not a string.
"""
import json
import sys


def js_key_order(keys):
    ints = sorted((k for k in keys if k.isdigit() and str(int(k)) == k), key=int)
    return ints + [k for k in keys if k not in ints]


def convert(convo):
    mapping = convo["mapping"]
    messages, last = [], None
    for node_id in js_key_order(list(mapping)):
        node = mapping[node_id]
        msg = node.get("message")
        if not messages and (
            msg is None
            or ((msg["content"].get("parts") or [None])[0] == "" and msg["content"].get("text") is None)
        ):
            continue
        parts = (msg or {}).get("content", {}).get("parts") or []
        content = (parts[0] if parts else None) or (msg or {}).get("content", {}).get("text") or ""
        role = "user" if (msg or {}).get("author", {}).get("role") == "user" else "assistant"
        messages.append({"id": node_id, "parentId": last, "childrenIds": node.get("children") or [],
                         "role": role, "content": content})
        last = node_id
    return messages


def valid(messages):
    return (bool(messages) and messages[-1]["childrenIds"] == [] and messages[0]["parentId"] is None
            and all(isinstance(m["content"], str) for m in messages))


def main():
    chats = json.load(open(sys.argv[1], encoding="utf-8"))
    out, failed = [], 0
    for convo in chats:
        messages = convert(convo)
        if valid(messages):
            out.append({"id": convo["id"], "title": convo["title"], "timestamp": convo["create_time"],
                        "messages": [{"role": m["role"], "content": m["content"]} for m in messages]})
        else:
            failed += 1
    json.dump({"imported": out, "failed": failed}, sys.stdout)


main()
