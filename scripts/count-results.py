#!/usr/bin/env python3
"""count-results.py LABEL BUILDDIR - one "OK name" or "FAIL name" line per
test case of a meson test run: GoogleTest cases (from each test's output),
pytest cases (from the JUnit files the suites write) and any other meson
test as one case."""
import json
import pathlib
import re
import sys
import xml.etree.ElementTree as ET

label, build = sys.argv[1], pathlib.Path(sys.argv[2])
logs = build / "meson-logs"
lines = []
log = logs / "testlog.json"
if not log.exists():
    print(f"FAIL {label}:no-test-log")
    sys.exit(0)
for raw in log.read_text().splitlines():
    t = json.loads(raw)
    name, result, out = t["name"], t["result"], t.get("stdout") or ""
    ok = result in ("OK", "EXPECTEDFAIL", "SKIP")
    junit = re.search(r"--junitxml[= ](\S+)", " ".join(t.get("command", [])))
    gtest_cases = re.findall(r"^\[\s+(OK|FAILED)\s+\] (\S+\.\S+) \(", out, re.M)
    if junit and pathlib.Path(junit.group(1)).exists():
        root = ET.parse(junit.group(1)).getroot()
        cases = list(root.iter("testcase"))
        for c in cases:
            failed = c.find("failure") is not None or c.find("error") is not None
            lines.append(f"{'FAIL' if failed else 'OK'} {label}:{name}:{c.get('name')}")
        if not cases or (not ok and not any(l.startswith("FAIL") for l in lines)):
            lines.append(f"{'OK' if ok else 'FAIL'} {label}:{name}")
    elif gtest_cases:
        for state, case in gtest_cases:
            lines.append(f"{'OK' if state == 'OK' else 'FAIL'} {label}:{name}:{case}")
        if not ok and all(s == "OK" for s, _ in gtest_cases):
            lines.append(f"FAIL {label}:{name}:process")  # crashed or leaked after the cases
    else:
        lines.append(f"{'OK' if ok else 'FAIL'} {label}:{name}")
print("\n".join(lines))
