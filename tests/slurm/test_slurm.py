#!/usr/bin/python3
"""The Slurm scripts in tools/slurm on a real one-node Slurm cluster.

Starts munged, slurmctld and slurmd (Debian's munge and slurm-wlm packages) as the current user (root or not), with
every file they write in a temporary folder and free ports, and submits `fmviz atlas` as an array job with
tools/slurm/submit-atlas.sh: 4 shards over 12 small images, then the merge job that waits for them. Every task must
succeed and the merged table (and its site) must be the one a single `fmviz atlas` run gives, byte for byte. Then a
shard loses its manifest, as a killed task leaves it, and `submit-atlas.sh --resume` must run that shard alone and
merge the same table again. Everything is stopped and removed at the end, also on failure.

Run by CTest with FMVIZ_CLI (the fmviz executable) and FMVIZ_TEST_DATA (the generated fixtures) set. Exits with 77
(CTest's skip code here) when the Slurm or MUNGE daemons are not installed, or when `fmviz atlas` is not built yet.
"""
import os
import ctypes
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

SKIP = 77
HERE = os.path.dirname(os.path.abspath(__file__))
SOURCE = os.path.normpath(os.path.join(HERE, "..", ".."))
SUBMIT = os.path.join(SOURCE, "tools", "slurm", "submit-atlas.sh")
SHARDS = 4
IMAGE_SIZE = 64
LAYERS = "conv1_1,conv5_3"
TOP = 3
DAEMONS = ("munged", "slurmctld", "slurmd")
CLIENTS = ("sbatch", "squeue", "sinfo", "scontrol", "scancel")
# The daemons live in /usr/sbin, which is not on every user's PATH.
SEARCH_PATH = os.pathsep.join([os.environ.get("PATH", ""), "/usr/sbin", "/sbin", "/usr/local/sbin"])


def skip(reason):
    print(f"skipped: {reason}")
    sys.exit(SKIP)


def find(program):
    return shutil.which(program, path=SEARCH_PATH)


def die_with_parent():
    """In a daemon before exec: SIGTERM when the test dies, even killed (CTest's timeout), so no daemon outlives it."""
    ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


def free_ports(count):
    """Ports that were free a moment ago (held together so that they differ)."""
    held = []
    try:
        for _ in range(count):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.bind(("127.0.0.1", 0))
            held.append(s)
        return [s.getsockname()[1] for s in held]
    finally:
        for s in held:
            s.close()


def node_hardware():
    """This machine's CPUs and memory as slurmd sees them (`slurmd -C`), so that the node is not drained."""
    fields = {}
    proc = subprocess.run([find("slurmd"), "-C"], capture_output=True, text=True, timeout=60)
    if proc.returncode == 0:
        fields = dict(re.findall(r"(\w+)=(\S+)", proc.stdout.splitlines()[0] if proc.stdout else ""))
    keep = ["CPUs", "Boards", "SocketsPerBoard", "CoresPerSocket", "ThreadsPerCore", "RealMemory"]
    if "CPUs" not in fields or "RealMemory" not in fields:
        with open("/proc/meminfo") as f:
            kib = int(re.search(r"MemTotal:\s+(\d+)", f.read()).group(1))
        fields = {"CPUs": str(os.cpu_count() or 1), "RealMemory": str(kib // 1024)}
    return " ".join(f"{k}={fields[k]}" for k in keep if k in fields), int(fields["CPUs"]), int(fields["RealMemory"])


class Cluster:
    """munged + slurmctld + slurmd on this machine, everything under one temporary folder."""

    def __init__(self, root):
        self.root = root
        self.user = subprocess.run(["id", "-un"], capture_output=True, text=True, check=True).stdout.strip()
        self.node = socket.gethostname().split(".")[0]
        self.procs = {}
        d = self.dirs = {name: os.path.join(root, name) for name in ("munge", "socket", "state", "spool", "log", "run")}
        for path in d.values():
            os.makedirs(path, mode=0o700)
        # MUNGE refuses a key that others can read, folders that others can write, and a socket whose folders not
        # everyone can enter: the key is 0600 in a 0700 folder, the socket in a 0755 one.
        os.chmod(d["socket"], 0o755)
        self.munge_socket = os.path.join(d["socket"], "munge.socket")
        self.munge_key = os.path.join(d["munge"], "munge.key")
        fd = os.open(self.munge_key, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(os.urandom(1024))
        self.conf = os.path.join(root, "slurm.conf")
        self.env = dict(os.environ, SLURM_CONF=self.conf, PATH=SEARCH_PATH)
        for var in [v for v in self.env if v.startswith(("SLURM_", "SBATCH_", "SALLOC_", "SRUN_", "SQUEUE_"))]:
            if var != "SLURM_CONF":
                del self.env[var]
        self.write_config()

    def write_config(self):
        d = self.dirs
        ctld_port, slurmd_port = free_ports(2)
        hardware, self.cpus, self.memory = node_hardware()
        plugstack = os.path.join(self.root, "plugstack.conf")
        open(plugstack, "w").close()
        lines = [
            "ClusterName=fmviztest",
            f"SlurmctldHost={self.node}(127.0.0.1)",
            f"SlurmUser={self.user}",
            f"SlurmdUser={self.user}",
            f"SlurmctldPort={ctld_port}",
            f"SlurmdPort={slurmd_port}",
            "AuthType=auth/munge",
            "CredType=cred/munge",
            f"AuthInfo=socket={self.munge_socket}",
            f"StateSaveLocation={d['state']}",
            f"SlurmdSpoolDir={d['spool']}",
            f"SlurmctldPidFile={d['run']}/slurmctld.pid",
            f"SlurmdPidFile={d['run']}/slurmd.pid",
            f"SlurmctldLogFile={d['log']}/slurmctld.log",
            f"SlurmdLogFile={d['log']}/slurmd.log",
            "SlurmctldDebug=info",
            "SlurmdDebug=info",
            f"PlugStackConfig={plugstack}",
            # No cgroups: processes are tracked through /proc, tasks are not confined.
            "ProctrackType=proctrack/linuxproc",
            "TaskPlugin=task/none",
            "JobAcctGatherType=jobacct_gather/none",
            "AccountingStorageType=accounting_storage/none",
            "JobCompType=jobcomp/filetxt",
            f"JobCompLoc={d['log']}/jobcomp.txt",
            "MpiDefault=none",
            "SwitchType=switch/none",
            "MailProg=/bin/true",
            "SelectType=select/cons_tres",
            "SelectTypeParameters=CR_Core_Memory",
            "SchedulerType=sched/builtin",
            "SchedulerParameters=sched_interval=1",
            "MinJobAge=3600",
            "ReturnToService=2",
            "SlurmdParameters=config_overrides",
            f"TmpFS={self.root}",
            f"NodeName={self.node} NodeAddr=127.0.0.1 {hardware} State=UNKNOWN",
            f"PartitionName=test Nodes={self.node} Default=YES MaxTime=INFINITE State=UP",
        ]
        with open(self.conf, "w") as f:
            f.write("\n".join(lines) + "\n")

    def start_daemon(self, name, argv):
        log = open(os.path.join(self.dirs["log"], name + ".out"), "wb")
        # Its own session, so that stopping it stops what it started too.
        self.procs[name] = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                                            env=self.env, start_new_session=True, cwd=self.root,
                                            preexec_fn=die_with_parent)
        log.close()

    def start(self):
        d = self.dirs
        self.start_daemon("munged", [find("munged"), "--foreground", f"--socket={self.munge_socket}",
                                     f"--key-file={self.munge_key}", f"--pid-file={d['munge']}/munged.pid",
                                     f"--log-file={d['log']}/munged.log", f"--seed-file={d['munge']}/munged.seed"])
        self.wait_for(lambda: os.path.exists(self.munge_socket), 20, "munged's socket")
        self.start_daemon("slurmctld", [find("slurmctld"), "-D", "-f", self.conf])
        self.wait_for(lambda: self.run("sinfo", "-h", check=False).returncode == 0, 30, "slurmctld to answer")
        self.start_daemon("slurmd", [find("slurmd"), "-D", "-f", self.conf, "-N", self.node])
        self.wait_for(lambda: self.node_state() == "idle", 60, f"node {self.node} idle in sinfo")

    def node_state(self):
        proc = self.run("sinfo", "-h", "-N", "-n", self.node, "-o", "%T", check=False)
        return proc.stdout.strip() if proc.returncode == 0 else None

    def wait_for(self, condition, timeout, what):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for name, proc in self.procs.items():
                if proc.poll() is not None:
                    raise RuntimeError(f"{name} exited with status {proc.returncode} while waiting for {what}")
            if condition():
                return
            time.sleep(0.2)
        raise RuntimeError(f"timed out after {timeout} s waiting for {what}")

    def run(self, *argv, check=True, timeout=60, env=None):
        proc = subprocess.run([find(argv[0]) or argv[0], *argv[1:]], capture_output=True, text=True,
                              env=dict(self.env, **(env or {})), timeout=timeout, stdin=subprocess.DEVNULL)
        if check and proc.returncode != 0:
            raise RuntimeError(f"{' '.join(argv)}: status {proc.returncode}\n{proc.stdout}{proc.stderr}")
        return proc

    def job_records(self, job_id):
        """Every job of a (possibly array) job, as dicts of scontrol's fields; several records for an array."""
        proc = self.run("scontrol", "show", "job", "-o", str(job_id), check=False)
        if proc.returncode != 0:
            return []
        return [dict(re.findall(r"(\w+)=(\S*)", line)) for line in proc.stdout.splitlines() if line.strip()]

    def wait_for_jobs(self, job_ids, timeout):
        """Waits until no job of job_ids is pending or running; returns their records."""
        final = ("COMPLETED", "FAILED", "CANCELLED", "TIMEOUT", "NODE_FAIL", "OUT_OF_MEMORY", "PREEMPTED",
                 "BOOT_FAIL", "DEADLINE")
        records = []

        def done():
            nonlocal records
            records = [r for job in job_ids for r in self.job_records(job)]
            # A pending array is one record until its tasks start: wait for every record to be final, or for a job
            # that can never start.
            return records and (all(r.get("JobState") in final for r in records) or any(
                "DependencyNeverSatisfied" in r.get("Reason", "") for r in records))

        self.wait_for(done, timeout, f"jobs {', '.join(map(str, job_ids))} to finish")
        return records

    def dump_logs(self):
        for name in sorted(os.listdir(self.dirs["log"])):
            path = os.path.join(self.dirs["log"], name)
            with open(path, errors="replace") as f:
                text = f.read()
            print(f"----- {name} (last 40 lines)\n" + "\n".join(text.splitlines()[-40:]), file=sys.stderr)

    def our_processes(self):
        """Processes started for this cluster (slurmstepd, job scripts): they carry its SLURM_CONF."""
        marker = f"SLURM_CONF={self.conf}".encode() + b"\0"
        found = []
        for pid in filter(str.isdigit, os.listdir("/proc")):
            if int(pid) == os.getpid():
                continue
            try:
                with open(f"/proc/{pid}/environ", "rb") as f:
                    if marker in f.read():
                        found.append(int(pid))
            except OSError:
                pass
        return found

    def stop(self):
        if "slurmctld" in self.procs and self.procs["slurmctld"].poll() is None:
            self.run("scancel", "--user", self.user, check=False, timeout=20)
        for name in ("slurmd", "slurmctld", "munged"):
            proc = self.procs.get(name)
            if proc is None:
                continue
            self.kill_group(proc, signal.SIGTERM)
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.kill_group(proc, signal.SIGKILL)
                proc.wait(timeout=15)
        for pid in self.our_processes():
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass

    @staticmethod
    def kill_group(proc, sig):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            pass


def atlas_available(cli):
    try:
        proc = subprocess.run([cli, "atlas", "--help"], capture_output=True, text=True, timeout=60,
                              stdin=subprocess.DEVNULL)
    except OSError:
        return False
    return proc.returncode == 0 and "--shard" in proc.stdout


def make_images(folder):
    """12 images of every kind the fixtures have, one of them twice (its values tie, across shards)."""
    data = os.environ["FMVIZ_TEST_DATA"]
    sources = [os.path.join(data, "images", name) for name in (
        "png_rgb.png", "jpeg_baseline.jpg", "jpeg_444.jpg", "jpeg_grey.jpg", "jpeg_progressive.jpg", "jpeg_cmyk.jpg",
        "png_palette.png", "bmp_rgb.bmp")] + [os.path.join(data, "reference", name) for name in (
        "grace_hopper.png", "chelsea224.jpg", "grace_hopper224.jpg")]
    os.makedirs(folder)
    paths = []
    for i, source in enumerate(sources + sources[-2:-1]):
        paths.append(os.path.join(folder, f"{i:02d}-{os.path.basename(source)}"))
        shutil.copyfile(source, paths[-1])
    return paths


def tree(folder):
    """{relative path: bytes} of every file below folder."""
    files = {}
    for root, _, names in os.walk(folder):
        for name in names:
            path = os.path.join(root, name)
            with open(path, "rb") as f:
                files[os.path.relpath(path, folder)] = f.read()
    return files


def submit(cluster, *args, env=None):
    proc = cluster.run("bash", SUBMIT, *args, timeout=60, env=env)
    array = re.search(r"^array job (\d+):", proc.stdout, re.M)
    merge = re.search(r"^merge job (\d+):", proc.stdout, re.M)
    check(array and merge, f"submit-atlas.sh printed no job ids:\n{proc.stdout}{proc.stderr}")
    print(proc.stdout.strip())
    return int(array.group(1)), int(merge.group(1))


def check(condition, message):
    if not condition:
        raise AssertionError(message)


def check_jobs(cluster, array, merge, tasks, timeout):
    records = cluster.wait_for_jobs([array, merge], timeout)
    shard_records = {r.get("ArrayTaskId"): r for r in records if r.get("ArrayJobId") == str(array)}
    check(sorted(shard_records) == sorted(map(str, tasks)),
          f"array job {array}: expected tasks {tasks}, found {sorted(shard_records)}")
    for task, r in sorted(shard_records.items()):
        check(r["JobState"] == "COMPLETED" and r["ExitCode"] == "0:0",
              f"array task {array}_{task}: {r['JobState']} (exit {r['ExitCode']}, {r.get('Reason')})")
    merged = [r for r in records if r.get("JobId") == str(merge)]
    check(len(merged) == 1 and merged[0]["JobState"] == "COMPLETED" and merged[0]["ExitCode"] == "0:0",
          f"merge job {merge}: {[(r['JobState'], r['ExitCode'], r.get('Reason')) for r in merged]}")
    # The merge started after the last shard ended.
    last_end = max(r["EndTime"] for r in shard_records.values())
    check(merged[0]["StartTime"] >= last_end, f"merge started {merged[0]['StartTime']}, before {last_end}")


def atlas_test(cluster, root, cli):
    weights = os.path.join(os.environ["FMVIZ_TEST_DATA"], "reference", "vgg16_seed0_convs.bin")
    images = make_images(os.path.join(root, "images"))
    listing = os.path.join(root, "images.txt")
    with open(listing, "w") as f:
        f.write("".join(p + "\n" for p in images))
    common = ["-w", weights, "--images-from", listing, "--layers", LAYERS, "--top", str(TOP), "--size", str(IMAGE_SIZE)]

    t = time.monotonic()
    single = os.path.join(root, "single")
    proc = subprocess.run([cli, "atlas", *common, "-o", single], capture_output=True, text=True, timeout=150,
                          stdin=subprocess.DEVNULL, preexec_fn=die_with_parent)
    check(proc.returncode == 0, f"single fmviz atlas run: status {proc.returncode}\n{proc.stderr}")
    print(f"single run: {time.monotonic() - t:.1f} s")

    out = os.path.join(root, "out")
    t = time.monotonic()
    merge_cpus = min(2, cluster.cpus)
    array, merge = submit(cluster, "--fmviz", cli, *common, "-n", str(SHARDS), "-c", "1", "--mem", "1G",
                          "--time", "00:05:00", "--merge-cpus", str(merge_cpus), "--merge-mem", "1G",
                          "--merge-time", "00:05:00", "-o", out)
    check_jobs(cluster, array, merge, range(SHARDS), 120)
    print(f"array job {array} and merge job {merge} completed in {time.monotonic() - t:.1f} s")
    for i in range(SHARDS):
        log = os.path.join(out, "logs", f"atlas-{array}_{i}.out")
        check(os.path.isfile(log), f"no log {log}")
        with open(log) as f:
            text = f.read()
        check(f"shard {i}/{SHARDS} on {cluster.node}, threads: 1 ->" in text,
              f"{log}: not shard {i}'s, or not 1 thread:\n{text}")
    with open(os.path.join(out, "logs", f"merge-{merge}.out")) as f:
        text = f.read()
        check(f"{SHARDS} shards of {out} on {cluster.node}, threads: {merge_cpus} ->" in text, f"merge log:\n{text}")
    compare(tree(single), tree(os.path.join(out, "merged")), "the merged table")

    # A task that failed is submitted again alone: shard 2 loses its manifest (as a task killed before writing it
    # would), --resume submits that shard only and a new merge.
    os.remove(os.path.join(out, "shard-2", "atlas.json"))
    shutil.rmtree(os.path.join(out, "merged"))
    # (The shard count from the environment this time.)
    array, merge = submit(cluster, "--fmviz", cli, *common, "--resume", "--no-site", "-c", "1", "--mem", "1G",
                          "-o", out, env={"FMVIZ_ATLAS_SHARDS": str(SHARDS)})
    check_jobs(cluster, array, merge, [2], 120)
    table = {name: data for name, data in tree(single).items() if os.sep not in name and not name.endswith(".html")}
    check(sorted(table) == sorted(["atlas.json"] + [layer + ".bin" for layer in LAYERS.split(",")]), sorted(table))
    compare(table, tree(os.path.join(out, "merged")), "the table merged (--no-site) after shard 2 was run again")


def compare(expected, got, what):
    check(sorted(got) == sorted(expected), f"{what}: files {sorted(got)}, a single run's {sorted(expected)}")
    differ = [name for name in expected if expected[name] != got[name]]
    check(not differ, f"{what}: differs from a single run's in {differ}")
    print(f"{what}: the same {len(expected)} files, byte for byte, as a single run's")


def main():
    missing = [p for p in DAEMONS + CLIENTS if not find(p)]
    if missing:
        skip(f"{', '.join(missing)} not installed (Debian: apt-get install slurm-wlm munge)")
    cli = os.environ["FMVIZ_CLI"]
    if not atlas_available(cli):
        skip(f"fmviz atlas not built yet ({cli} atlas --help fails or has no --shard)")
    # A SIGTERM (CTest stopping the test) ends it through the finally below, which stops the cluster.
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(f"stopped by signal {signum}"))
    root = tempfile.mkdtemp(prefix="fmviz-slurm-")
    os.chmod(root, 0o755)  # munged's socket is below: its folders must be open to all
    cluster = None
    started = time.monotonic()
    try:
        cluster = Cluster(root)
        cluster.start()
        print(f"cluster up in {time.monotonic() - started:.1f} s: node {cluster.node}, {cluster.cpus} CPUs, "
              f"{cluster.memory} MB, user {cluster.user}")
        atlas_test(cluster, root, cli)
    except BaseException:
        if cluster is not None:
            cluster.dump_logs()
        raise
    finally:
        if cluster is not None:
            cluster.stop()
        shutil.rmtree(root, ignore_errors=True)
        print(f"total {time.monotonic() - started:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
