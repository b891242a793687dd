"""Ctrl-C stops a running query or conversion within a second, leaving the connection
usable and no output or staging behind; a forked child gets an error, not a deadlock.
Each runs in a subprocess of its own, sent a real SIGINT."""

import json
import os
import signal
import subprocess
import sys
import textwrap
import time

from conftest import TESTDATA


def run_and_interrupt(script, *args, after=1.0):
    """Starts `script`, waits for its "ready" line and `after` seconds, sends SIGINT;
    returns (seconds from the signal to the exit, stdout lines, stderr)."""
    p = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(script), *map(str, args)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    assert p.stdout.readline().strip() == "ready", p.stderr.read()
    time.sleep(after)
    sent = time.monotonic()
    p.send_signal(signal.SIGINT)
    out, err = p.communicate(timeout=60)
    return time.monotonic() - sent, out.splitlines(), err


def test_ctrl_c_stops_a_long_query_and_the_connection_goes_on(lake):
    took, out, err = run_and_interrupt(
        """
        import sys, chatql
        con = chatql.connect(sys.argv[1])
        print("ready", flush=True)
        try:
            con.sql("select count(*) from range(1000000000000) a where a.value % 7 = 3")
            print("finished")
        except KeyboardInterrupt:
            print("interrupted")
        print(con.sql("select count(*) from conversations").fetchall())
        """,
        lake,
    )
    assert out == ["interrupted", "[(21,)]"], err
    assert took < 3, took  # 100 ms polling; the rest is the interpreter's exit


def test_ctrl_c_stops_a_conversion_and_leaves_nothing(tmp_path):
    # About 120 MB of conversations: far more than a second's work.
    line = json.loads((TESTDATA / "convos-2023-r.jsonl").read_text().splitlines()[0])
    big = tmp_path / "big.jsonl"
    with big.open("w") as f:
        for i in range(120_000):
            line["id"] = 10_000 + i
            line["convo_id"] = line["convo"]["id"] = f"0b000000-0000-4000-8000-{i:012d}"
            f.write(json.dumps(line) + "\n")
    out = tmp_path / "lake"
    took, lines, err = run_and_interrupt(
        """
        import sys, chatql
        print("ready", flush=True)
        try:
            chatql.convert(sys.argv[1], sys.argv[2])
            print("finished")
        except KeyboardInterrupt:
            print("interrupted")
        """,
        big, out, after=1.5,
    )
    assert lines == ["interrupted"], err
    assert took < 5, took
    assert not out.exists()
    assert sorted(os.listdir(tmp_path)) == ["big.jsonl"]  # no staging left


def test_a_forked_child_gets_an_error_not_a_deadlock(lake):
    script = """
        import os, sys, chatql
        con = chatql.connect(sys.argv[1])
        con.sql("select 1")
        pid = os.fork()
        if pid == 0:
            try:
                con.sql("select 1")
                os._exit(3)
            except chatql.Error as e:
                os._exit(0 if "fork" in str(e) and "spawn" in str(e) else 4)
            except BaseException:
                os._exit(5)
        _, status = os.waitpid(pid, 0)
        print(os.waitstatus_to_exitcode(status))
        print(con.sql("select count(*) from conversations").fetchall())
    """
    p = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(script), str(lake)],
        capture_output=True, text=True, timeout=60,
    )
    assert p.stdout.splitlines() == ["0", "[(21,)]"], p.stderr
