"""Parse (and read the fields a VXU check needs from) every message of a file with the
Python HL7 libraries, one core, and print messages per second as JSON.

Used by `imms bench hl7`, which times imms on the same messages in the same run."""
import json
import sys
import time

import hl7
from hl7apy.parser import parse_message


def messages(path):
    text = open(path, encoding="utf-8").read()
    out, cur = [], []
    for line in text.replace("\r\n", "\r").replace("\n", "\r").split("\r"):
        if not line.strip():
            continue
        if line.startswith("MSH") and cur:
            out.append("\r".join(cur) + "\r")
            cur = []
        cur.append(line)
    if cur:
        out.append("\r".join(cur) + "\r")
    return out


def bench(name, fn, msgs):
    # Wall clock, and this thread's CPU time: on a loaded machine the second shows the work
    # done apart from the time spent waiting for a core.
    start, cpu_start = time.perf_counter(), time.thread_time()
    for m in msgs:
        fn(m)
    secs, cpu = time.perf_counter() - start, time.thread_time() - cpu_start
    return {
        "messages": len(msgs),
        "seconds": secs,
        "cpu_seconds": cpu,
        "messages_per_second": len(msgs) / secs,
        "cpu_messages_per_second": len(msgs) / cpu if cpu > 0 else None,
    }


def python_hl7(m):
    msg = hl7.parse(m)
    pid = msg.segment("PID")
    _ = (str(pid[3]), str(pid[5]), str(pid[7]), str(pid[8]), str(pid[11]))
    for rxa in msg.segments("RXA"):
        _ = (str(rxa[3]), str(rxa[5]), str(rxa[9]), str(rxa[20]), str(rxa[21]))


def hl7apy_parse(m):
    msg = parse_message(m, find_groups=False)
    pid = msg.pid
    _ = (pid.pid_3.value, pid.pid_5.value, pid.pid_7.value, pid.pid_8.value)
    for rxa in msg.children.get("RXA"):
        _ = (rxa.rxa_3.value, rxa.rxa_5.value, rxa.rxa_20.value)


if __name__ == "__main__":
    msgs = messages(sys.argv[1])
    limit = int(sys.argv[2]) if len(sys.argv) > 2 else len(msgs)
    result = {
        "python-hl7": bench("python-hl7", python_hl7, msgs),
        # hl7apy is much slower: a subset keeps the run short; the rate is per message.
        "hl7apy": bench("hl7apy", hl7apy_parse, msgs[:limit]),
    }
    print(json.dumps(result))
