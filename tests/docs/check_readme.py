#!/usr/bin/python3
"""The README must show the code and commands that really run: its quickstart is examples/quickstart.cpp,
its test command is the one .ci/run runs, and every repository path it names exists."""
import os
import re
import sys

root = sys.argv[1]
readme = open(os.path.join(root, "README.md")).read()
failures = []

quickstart = open(os.path.join(root, "examples", "quickstart.cpp")).read()
blocks = re.findall(r"```cpp\n(.*?)```", readme, re.S)
if quickstart not in blocks:
    failures.append("README's quickstart block differs from examples/quickstart.cpp")

report_example = open(os.path.join(root, "examples", "report.cpp")).read()
for block in (b for b in blocks if "write_report" in b):
    for line in block.strip().splitlines():
        if line.strip() not in report_example:
            failures.append(f"README's report example has a line examples/report.cpp lacks: {line.strip()}")

explain_example = open(os.path.join(root, "examples", "explain.cpp")).read()
for block in (b for b in blocks if "class_activation_maps" in b):
    for line in block.strip().splitlines():
        if line.strip() not in explain_example:
            failures.append(f"README's explanation example has a line examples/explain.cpp lacks: {line.strip()}")

sh_blocks = re.findall(r"```sh\n(.*?)```", readme, re.S)
ci = open(os.path.join(root, ".ci", "run")).read()
test_commands = [b.strip() for b in sh_blocks if "ctest" in b and "\n" not in b.strip()]
if len(test_commands) < 1 or not any(cmd in ci for cmd in test_commands):
    failures.append("README's test command is not the one .ci/run runs")

for path in sorted(set(re.findall(r"`((?:tools|examples|bench|include|tests|packaging|cmake|docs)/[\w./-]*)`", readme))):
    if not os.path.exists(os.path.join(root, path.rstrip("/"))) and "*" not in path:
        failures.append(f"README names {path}, which does not exist")

for image in re.findall(r"!\[[^\]]*\]\(([^)]+)\)", readme) + re.findall(r'<img src="([^"]+)"', readme):
    if not os.path.exists(os.path.join(root, image)):
        failures.append(f"README shows {image}, which does not exist")

for f in failures:
    print("FAIL:", f)
print("README checks:", "failed" if failures else "passed")
sys.exit(1 if failures else 0)
