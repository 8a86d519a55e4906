#!/bin/bash
# image_test.sh - checks the container image without Docker: runs the Dockerfile's build
# stage script (build, unit tests, make install) and its runtime stage (the COPY lines,
# then deploy/image/runtime.sh) into a temp dir, checks that every shared library comes
# from the runtime stage's apt packages, then starts the installed txscoped as the image's
# USER with the image's ENV plus, in turn, the env of deploy/compose.yaml and of
# deploy/k8s-sidecar.yaml, and probes it as Docker, Compose and Kubernetes would: the
# HEALTHCHECK, /healthz, /readyz, the CLI, the example app of each file, and SIGTERM.
# Everything it agrees with is read from the Dockerfile and the two YAML files.
#
#   tests/scripts/image_test.sh      needs root (it creates and runs as the txscope user)
#                                    and a PostgreSQL in PGHOST, PGPORT, PGUSER (trust)
# Called by tests/scripts/check.sh. KEEP_LOGS=1 keeps its temp dir.
set -euo pipefail
cd "$(dirname "$0")/../.."

ok() { echo "   ok  $*"; }
die() {
    echo "image_test.sh: FAIL: $*" >&2
    exit 1
}

[ "$(id -u)" = 0 ] || die "run it as root: it creates the image's user and runs the daemon as it"
if [ -z "${PGHOST:-}" ] || [ -z "${PGPORT:-}" ] || [ -z "${PGUSER:-}" ]; then
    die "PGHOST, PGPORT and PGUSER must name a running PostgreSQL (tests/scripts/pg.sh)"
fi
tests/scripts/deps.sh python3-yaml # the YAML files are parsed with python3's yaml
PY=/usr/bin/python3

tmp=$(mktemp -d /tmp/txscope-image.XXXXXX)
chmod 755 "$tmp" # the txscope user runs what is staged inside
db=txscope_image_$$
pids=()
cleanup() {
    set +e
    for p in "${pids[@]}"; do kill -KILL "$p" 2>/dev/null; done
    psql -X -q -d postgres -c "drop database if exists $db with (force)" >/dev/null 2>&1
    if [ "${KEEP_LOGS:-}" = 1 ]; then echo "   image test files kept in $tmp"; else rm -rf "$tmp"; fi
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP PIPE

# --- What the Dockerfile and the deploy files say ------------------------------------
# One pass of python reads the Dockerfile (continuations joined, comments dropped), the
# two YAML files and .dockerignore, checks how they fit together, and writes what the
# shell below needs into $tmp/x: one value or one item per line.
mkdir "$tmp/x"
"$PY" - "$tmp/x" <<'PYEOF'
import json, os, re, shlex, subprocess, sys
from urllib.parse import urlsplit
import yaml

out = sys.argv[1]
def fail(msg):
    sys.exit("image_test.sh: FAIL: " + msg)
def ok(msg):
    print("   ok  " + msg)
def write(name, lines):
    with open(os.path.join(out, name), "w") as f:
        for l in lines:
            f.write(l + "\n")

# ---- Dockerfile
instrs, cur = [], ""
for raw in open("Dockerfile"):
    line = raw.rstrip("\n")
    if line.strip().startswith("#"):
        continue  # comments (and the syntax directive), inside a continuation too
    if line.endswith("\\"):
        cur += line[:-1]
        continue
    cur += line
    if cur.strip():
        word, _, rest = cur.strip().partition(" ")
        instrs.append((word.upper(), rest.strip()))
    cur = ""
stages = []
for word, rest in instrs:
    if word == "FROM":
        t = rest.split()
        stages.append({"from": t[0], "name": t[2] if len(t) == 3 and t[1].lower() == "as" else None, "i": []})
    elif not stages:
        fail("Dockerfile: %s before the first FROM" % word)
    else:
        stages[-1]["i"].append((word, rest))
if len(stages) != 2 or stages[0]["name"] != "build":
    fail("Dockerfile: expected two stages, the first 'AS build'")
build, runtime = stages
for s in stages:
    if s["from"] != "debian:bookworm-slim":
        fail("Dockerfile: a stage FROM %s, expected debian:bookworm-slim" % s["from"])

def apt_packages(run):
    for part in run.split("&&"):
        t = part.split()
        if "apt-get" in t and "install" in t:
            return [w for w in t[t.index("install") + 1:] if not w.startswith("-")]
    return None

# The build stage: apt, WORKDIR, COPY . ., RUN deploy/image/build.sh DESTDIR.
build_apt, dest = None, None
for word, rest in build["i"]:
    if word == "RUN" and apt_packages(rest) is not None:
        build_apt = apt_packages(rest)
    elif word == "RUN" and "deploy/image/build.sh" in rest:
        t = shlex.split(rest)
        if t[:2] != ["sh", "deploy/image/build.sh"] or len(t) != 3:
            fail("Dockerfile: expected RUN sh deploy/image/build.sh DESTDIR, got " + rest)
        dest = t[2]
    elif word == "WORKDIR" or (word == "COPY" and shlex.split(rest) == [".", "."]):
        pass
    else:
        fail("Dockerfile: the build stage's %s %s is not something image_test.sh runs: "
             "put build steps in deploy/image/build.sh" % (word, rest))
if not build_apt or not dest:
    fail("Dockerfile: the build stage needs its apt-get install and RUN sh deploy/image/build.sh DESTDIR")
# Every build dependency of deps.sh (its -dev packages, the compiler, pkg-config, check).
deps = open("tests/scripts/deps.sh").read()
deps = re.search(r'PKGS="([^"]*)"', deps, re.S).group(1).replace("\\\n", " ").split()
needed = [p for p in deps if p.endswith("-dev") or p in ("build-essential", "pkg-config", "check")]
missing = sorted(set(needed) - set(build_apt))
if missing:
    fail("Dockerfile: the build stage's apt-get install lacks %s (tests/scripts/deps.sh builds with them)" % " ".join(missing))
ok("Dockerfile build stage: apt has deps.sh's %d build packages; RUN sh deploy/image/build.sh %s" % (len(needed), dest))

# The runtime stage.
rt_apt, copies, env, user, expose, hc, signal, entry, rt_root = None, [], {}, None, [], None, None, None, None
for word, rest in runtime["i"]:
    if word == "RUN" and apt_packages(rest) is not None:
        rt_apt = apt_packages(rest)
        if "--no-install-recommends" not in rest or "rm -rf /var/lib/apt/lists/*" not in rest:
            fail("Dockerfile: the runtime apt-get install needs --no-install-recommends and rm -rf /var/lib/apt/lists/*")
    elif word == "RUN" and "deploy/image/runtime.sh" in rest:
        t = shlex.split(rest)
        mount = dict(kv.split("=", 1) for kv in t[0][len("--mount="):].split(",")) if t[0].startswith("--mount=") else {}
        cmd = [w for w in t if not w.startswith("--")]
        if mount.get("source") != "deploy/image/runtime.sh" or cmd[:2] != ["sh", mount.get("target")] or len(cmd) != 3:
            fail("Dockerfile: expected RUN --mount=type=bind,source=deploy/image/runtime.sh,target=T sh T ROOT, got " + rest)
        rt_root = cmd[2]
    elif word == "COPY":
        t = shlex.split(rest)
        if t[0] != "--from=build" or len(t) < 3:
            fail("Dockerfile: the runtime stage copies only from the build stage: COPY --from=build SRC... DEST, got " + rest)
        for src in t[1:-1]:
            if not src.startswith(dest.rstrip("/") + "/"):
                fail("Dockerfile: COPY --from=build %s is not under the build's DESTDIR %s" % (src, dest))
            copies.append(src[len(dest.rstrip("/")):] + "\t" + t[-1])
    elif word == "ENV":
        for kv in shlex.split(rest):
            if "=" not in kv:
                fail("Dockerfile: ENV NAME=VALUE expected, got " + rest)
            k, v = kv.split("=", 1)
            env[k] = v
    elif word == "USER":
        user = rest
    elif word == "EXPOSE":
        expose += [p.split("/")[0] for p in rest.split()]
    elif word == "HEALTHCHECK":
        m = re.match(r"((?:--\S+\s+)*)CMD\s+(.*)$", rest, re.S)
        if not m or m.group(2).lstrip().startswith("["):
            fail("Dockerfile: HEALTHCHECK [OPTIONS] CMD <shell command> expected")
        hc = m.group(2)
    elif word == "STOPSIGNAL":
        signal = rest
    elif word == "ENTRYPOINT":
        entry = json.loads(rest)
    else:
        fail("Dockerfile: the runtime stage's %s %s is not something image_test.sh checks: "
             "put set-up steps in deploy/image/runtime.sh" % (word, rest))
for what, v in (("apt-get install", rt_apt), ("RUN ... runtime.sh", rt_root), ("COPY --from=build", copies),
                ("USER", user), ("EXPOSE", expose), ("HEALTHCHECK", hc), ("ENTRYPOINT", entry)):
    if not v:
        fail("Dockerfile: the runtime stage has no " + what)
if signal != "SIGTERM":
    fail("Dockerfile: STOPSIGNAL SIGTERM expected (the drain), got %s" % signal)
for k in ("TXSCOPE_CONFIG", "TXSCOPE_LISTEN", "TXSCOPE_ADMIN_LISTEN"):
    if k not in env:
        fail("Dockerfile: ENV %s missing" % k)
def port_of(addr):
    return addr.rsplit(":", 1)[1]
def host_of(addr):
    return addr.rsplit(":", 1)[0]
if sorted(expose) != sorted([port_of(env["TXSCOPE_LISTEN"]), port_of(env["TXSCOPE_ADMIN_LISTEN"])]):
    fail("Dockerfile: EXPOSE %s, but the ENV listens on %s and %s" % (expose, env["TXSCOPE_LISTEN"], env["TXSCOPE_ADMIN_LISTEN"]))
for k in ("TXSCOPE_LISTEN", "TXSCOPE_ADMIN_LISTEN"):
    if host_of(env[k]) in ("127.0.0.1", "[::1]"):
        fail("Dockerfile: ENV %s=%s: a container must listen beyond loopback" % (k, env[k]))
uid = user.split(":")[0]
if not uid.isdigit() or uid == "0":
    fail("Dockerfile: USER %s: a numeric non-root uid expected (runAsNonRoot checks it)" % user)
ok("Dockerfile runtime stage: %d apt packages, %d COPY, USER %s, EXPOSE %s, STOPSIGNAL %s, ENTRYPOINT %s"
   % (len(rt_apt), len(copies), user, " ".join(expose), signal, " ".join(entry)))
write("dest", [dest]); write("runtime_root", [rt_root]); write("runtime_apt", rt_apt)
write("copies", copies); write("user", [user]); write("healthcheck", [hc]); write("entrypoint", entry)
write("image.env", ["%s=%s" % kv for kv in env.items()])

# ---- .dockerignore must not leave out anything the build reads.
def pattern_re(p):
    p = p.strip("/")
    r = ""
    i = 0
    while i < len(p):
        if p.startswith("**/", i):
            r += "(?:.*/)?"; i += 3
        elif p.startswith("**", i):
            r += ".*"; i += 2
        elif p[i] == "*":
            r += "[^/]*"; i += 1
        elif p[i] == "?":
            r += "[^/]"; i += 1
        else:
            r += re.escape(p[i]); i += 1
    return re.compile(r + "(?:/.*)?$")  # a directory leaves out all below it
rules = []
for l in open(".dockerignore"):
    l = l.strip()
    if l and not l.startswith("#"):
        rules.append((l.startswith("!"), pattern_re(l.lstrip("!"))))
def ignored(path):
    out_ = False
    for neg, r in rules:
        if r.match(path):
            out_ = not neg
    return out_
files = subprocess.run(["git", "ls-files", "--cached", "--others", "--exclude-standard"],
                       capture_output=True, text=True, check=True).stdout.split()
def read_by_build(f):
    return (f.endswith((".c", ".h", ".md")) or f in ("Makefile", "conf/txscope.ini")
            or f.startswith("deploy/image/"))
lost = [f for f in files if read_by_build(f) and os.path.exists(f) and ignored(f)]
if lost:
    fail(".dockerignore leaves out what the build needs: " + " ".join(lost[:10]))
if not ignored("build/release/bin/txscoped") or not ignored(".git/HEAD"):
    fail(".dockerignore should leave out build/ and .git")
ok(".dockerignore: all %d sources, docs and scripts the build reads reach the context; build/ and .git do not"
   % len([f for f in files if read_by_build(f)]))

# ---- Durations (the daemon's, and Compose's Go-style 1m30s)
def seconds(v):
    v = str(v).strip()
    if re.fullmatch(r"\d+(\.\d+)?", v):
        return float(v)
    units = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400}
    parts = re.findall(r"(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)", v)
    if not parts or "".join(a + b for a, b in parts) != v.replace(" ", ""):
        fail("cannot read the duration %r" % v)
    return sum(float(a) * units[b] for a, b in parts)
ini_drain = re.search(r"^drain_timeout\s*=\s*(\S+)", open("conf/txscope.ini").read(), re.M).group(1)
MARGIN = 5  # seconds to roll back what is left, close the backends and exit

def interpolate(v):
    # Compose's ${VAR:-default} and ${VAR}, with an empty environment: what `up` uses
    # when the user exports nothing.
    return re.sub(r"\$\{(\w+)(?::?-([^}]*))?\}", lambda m: m.group(2) or "", str(v))

# ---- deploy/compose.yaml
c = yaml.safe_load(open("deploy/compose.yaml"))
sv = c.get("services") or fail("compose: no services")
for n in ("db", "txscope", "app"):
    if n not in sv:
        fail("compose: no service %s" % n)
t = sv["txscope"]
b = t.get("build") or fail("compose: txscope must be built from the repository's Dockerfile")
df = os.path.normpath(os.path.join("deploy", b.get("context", "."), b.get("dockerfile", "Dockerfile")))
if df != "Dockerfile":
    fail("compose: txscope builds %s, not the repository's Dockerfile" % df)
if "healthcheck" not in sv["db"] or t.get("depends_on", {}).get("db", {}).get("condition") != "service_healthy":
    fail("compose: txscope must wait for db's healthcheck (depends_on: db: condition: service_healthy)")
if sv["app"].get("depends_on", {}).get("txscope", {}).get("condition") != "service_healthy":
    fail("compose: app must wait for txscope to be healthy (the image's HEALTHCHECK)")
tenv = {k: interpolate(v) for k, v in (t.get("environment") or {}).items()}
eff = dict(env, **tenv)
u = urlsplit(tenv.get("TXSCOPE_DB_MAIN_DSN", ""))
pg = {k: interpolate(v) for k, v in (sv["db"].get("environment") or {}).items()}
if (u.hostname, u.port or 5432, u.username, u.password, u.path.lstrip("/")) != \
        ("db", 5432, pg.get("POSTGRES_USER"), pg.get("POSTGRES_PASSWORD"), pg.get("POSTGRES_DB")):
    fail("compose: TXSCOPE_DB_MAIN_DSN %s does not match the db service's POSTGRES_* environment" % u.geturl())
drain = seconds(eff.get("TXSCOPE_DRAIN_TIMEOUT", ini_drain))
grace = seconds(t.get("stop_grace_period", "10s"))
if grace < drain + MARGIN:
    fail("compose: stop_grace_period %ss < drain_timeout %ss + %ss" % (grace, drain, MARGIN))
aenv = {k: interpolate(v) for k, v in (sv["app"].get("environment") or {}).items()}
if aenv.get("TXSCOPE_ADDRESS") != "txscope:" + port_of(eff["TXSCOPE_LISTEN"]):
    fail("compose: the app's TXSCOPE_ADDRESS %s is not txscope's service name and port" % aenv.get("TXSCOPE_ADDRESS"))
if aenv.get("TXSCOPE_TOKEN") != eff.get("TXSCOPE_AUTH_TOKEN"):
    fail("compose: the app's TXSCOPE_TOKEN is not txscope's TXSCOPE_AUTH_TOKEN")
cmd = sv["app"].get("command")
if not (isinstance(cmd, list) and cmd[:3] == ["python", "-u", "-c"] and len(cmd) == 4):
    fail("compose: the app's command should be [python, -u, -c, SCRIPT]")
ok("compose: db, txscope (the Dockerfile), app; DSN matches db; stop_grace_period %gs >= drain %gs + %ds; app -> %s"
   % (grace, drain, MARGIN, aenv["TXSCOPE_ADDRESS"]))
write("compose.env", ["%s=%s" % kv for kv in tenv.items()])
write("compose_app.env", ["%s=%s" % kv for kv in aenv.items()])
open(os.path.join(out, "compose_app.py"), "w").write(cmd[3])

# ---- deploy/k8s-sidecar.yaml
docs = [d for d in yaml.safe_load_all(open("deploy/k8s-sidecar.yaml")) if d]
secrets = {d["metadata"]["name"]: dict(d.get("stringData") or {}, **(d.get("data") or {}))
           for d in docs if d.get("kind") == "Secret"}
deps_ = [d for d in docs if d.get("kind") == "Deployment"]
if len(deps_) != 1:
    fail("k8s: expected one Deployment")
spec = deps_[0]["spec"]["template"]["spec"]
cs = {x["name"]: x for x in spec.get("containers", [])}
cs.update({x["name"]: x for x in spec.get("initContainers", []) if x.get("restartPolicy") == "Always"})
if set(cs) != {"app", "txscope"}:
    fail("k8s: expected the containers app and txscope, got %s" % sorted(cs))
tx = cs["txscope"]
kenv, secret_env = {}, {}
for e in tx.get("env", []):
    if "value" in e:
        kenv[e["name"]] = str(e["value"])
    else:
        ref = e.get("valueFrom", {}).get("secretKeyRef") or fail("k8s: env %s: a value or a secretKeyRef" % e["name"])
        if ref["name"] in secrets and ref["key"] not in secrets[ref["name"]]:
            fail("k8s: Secret %s has no key %s" % (ref["name"], ref["key"]))
        secret_env[e["name"]] = ref
if "TXSCOPE_DB_MAIN_DSN" not in secret_env:
    fail("k8s: TXSCOPE_DB_MAIN_DSN must come from a Secret (secretKeyRef)")
keff = dict(env, **kenv)
admin = keff["TXSCOPE_ADMIN_LISTEN"]
if host_of(admin) not in ("0.0.0.0", "[::]"):
    fail("k8s: TXSCOPE_ADMIN_LISTEN=%s: the kubelet probes the pod IP, so 0.0.0.0" % admin)
ports = {p.get("name"): p["containerPort"] for p in tx.get("ports", [])}
probes = {}
for kind, path in (("readinessProbe", "/readyz"), ("livenessProbe", "/healthz")):
    g = (tx.get(kind) or {}).get("httpGet") or fail("k8s: txscope needs an httpGet %s" % kind)
    port = ports.get(g["port"], g["port"])
    if g.get("path") != path or str(port) != port_of(admin):
        fail("k8s: %s should GET %s on the admin port %s, not %s on %s" % (kind, path, port_of(admin), g.get("path"), port))
    probes[kind] = path
if port_of(admin) not in expose:
    fail("k8s: the admin port %s is not EXPOSEd by the image" % port_of(admin))
def prestop(c):
    cmd = ((c.get("lifecycle") or {}).get("preStop") or {}).get("exec", {}).get("command", [])
    if cmd and (len(cmd) != 2 or cmd[0] not in ("sleep", "/bin/sleep")):
        fail("k8s: %s's preStop should be [sleep, N]" % c["name"])
    return cmd
pre = prestop(tx) or fail("k8s: txscope needs a preStop [sleep, N]")
app_pre = prestop(cs["app"])
if app_pre and seconds(pre[1]) < seconds(app_pre[1]):
    fail("k8s: txscope's preStop (%ss) is shorter than the app's (%ss): it would drain first" % (pre[1], app_pre[1]))
g = spec.get("terminationGracePeriodSeconds", 30)
kdrain = seconds(keff.get("TXSCOPE_DRAIN_TIMEOUT", ini_drain))
if g < seconds(pre[1]) + kdrain + MARGIN:
    fail("k8s: terminationGracePeriodSeconds %s < preStop %s + drain_timeout %g + %d" % (g, pre[1], kdrain, MARGIN))
psc, sc = spec.get("securityContext") or {}, tx.get("securityContext") or {}
if not (sc.get("runAsNonRoot", psc.get("runAsNonRoot")) is True and sc.get("readOnlyRootFilesystem") is True
        and sc.get("allowPrivilegeEscalation") is False):
    fail("k8s: txscope needs runAsNonRoot, readOnlyRootFilesystem, allowPrivilegeEscalation: false")
if str(sc.get("runAsUser", psc.get("runAsUser", uid))) != uid:
    fail("k8s: runAsUser is not the image's USER %s" % uid)
r = tx.get("resources") or {}
if not (r.get("requests") and (r.get("limits") or {}).get("memory")):
    fail("k8s: txscope needs resources.requests and a memory limit")
app = cs["app"]
kaenv = {e["name"]: str(e["value"]) for e in app.get("env", []) if "value" in e}
if kaenv.get("TXSCOPE_ADDRESS") != "127.0.0.1:" + port_of(keff["TXSCOPE_LISTEN"]):
    fail("k8s: the app's TXSCOPE_ADDRESS should be 127.0.0.1:%s (same pod)" % port_of(keff["TXSCOPE_LISTEN"]))
cmd = app.get("command")
if not (isinstance(cmd, list) and cmd[:3] == ["python", "-u", "-c"] and len(cmd) == 4):
    fail("k8s: the app's command should be [python, -u, -c, SCRIPT]")
ok("k8s: DSN from Secret %s; probes %s and %s on :%s; grace %ss >= preStop %ss + drain %gs + %ds; non-root, read-only"
   % (secret_env["TXSCOPE_DB_MAIN_DSN"]["name"], probes["readinessProbe"], probes["livenessProbe"],
      port_of(admin), g, pre[1], kdrain, MARGIN))
write("k8s.env", ["%s=%s" % kv for kv in kenv.items()])
write("k8s_app.env", ["%s=%s" % kv for kv in kaenv.items()])
write("k8s_probes", [probes["readinessProbe"], probes["livenessProbe"]])
open(os.path.join(out, "k8s_app.py"), "w").write(cmd[3])
if cmd[3] != open(os.path.join(out, "compose_app.py")).read():
    fail("k8s: the app's script differs from deploy/compose.yaml's (the file says they are the same)")
PYEOF

# --- The build stage -------------------------------------------------------------------
dest=$(cat "$tmp/x/dest")
stage="$tmp/build$dest"
echo "== image: build stage (deploy/image/build.sh, as the Dockerfile runs it)"
if ! sh deploy/image/build.sh "$stage" >"$tmp/build.log" 2>&1; then
    tail -n 40 "$tmp/build.log" >&2
    die "deploy/image/build.sh failed (log above)"
fi
checks=$(grep -Eo '^100%: Checks: [0-9]+' "$tmp/build.log" | tail -n 1 | grep -Eo '[0-9]+$') ||
    die "no unit test summary in the build stage's output"
ok "build stage: release build, unit tests (all $checks checks pass), make install"
for f in usr/bin/txscoped usr/bin/txscope etc/txscope/txscope.ini usr/share/doc/txscope/README.md; do
    [ -e "$stage/$f" ] || die "make install did not install /$f"
done
"$stage/usr/bin/txscoped" -V | grep -q '^txscoped 0.1.0$' || die "txscoped -V: $("$stage/usr/bin/txscoped" -V)"
"$stage/usr/bin/txscope" --version | grep -q '^txscope 0.1.0$' || die "txscope --version"
ok "make install: $(cd "$stage" && find . -type f | sort | tr '\n' ' ')"

# --- The runtime stage ------------------------------------------------------------------
echo "== image: runtime stage (the COPY lines, then deploy/image/runtime.sh)"
root="$tmp/root"
mkdir -p "$root"
while IFS=$'\t' read -r src to; do
    # Docker's COPY: a directory's contents go into the destination; a file goes to the
    # destination, or into it when it ends in /.
    if [ -d "$stage$src" ]; then
        mkdir -p "$root$to" && cp -a "$stage$src/." "$root$to/"
    elif [ "${to%/}" != "$to" ]; then
        mkdir -p "$root$to" && cp -a "$stage$src" "$root$to"
    else
        mkdir -p "$(dirname "$root$to")" && cp -a "$stage$src" "$root$to"
    fi
done <"$tmp/x/copies"
[ "$(cat "$tmp/x/runtime_root")" = / ] || die "the Dockerfile runs runtime.sh on $(cat "$tmp/x/runtime_root"), not /"
sh deploy/image/runtime.sh "$root" >"$tmp/runtime.log" 2>&1 || {
    cat "$tmp/runtime.log" >&2
    die "deploy/image/runtime.sh failed"
}
ok "runtime stage: $(tail -n 1 "$tmp/runtime.log" | sed 's/^runtime.sh: //')"
ok "image files: $(cd "$root" && find . -type f | sort | tr '\n' ' ')"
user=$(cat "$tmp/x/user")
[ "$(id -u txscope):$(id -g txscope)" = "$user" ] ||
    die "USER $user is not the txscope user runtime.sh made ($(id -u txscope):$(id -g txscope))"
ok "USER $user is the txscope user"

# Every library the programs load must come with the runtime stage's apt packages: from
# one of them or from what they depend on (libc6 and the like come that way).
mapfile -t rt_apt <"$tmp/x/runtime_apt"
for p in "${rt_apt[@]}"; do
    apt-cache show --no-all-versions "$p" >/dev/null 2>&1 || die "runtime package $p is unknown to apt"
done
closure=$(apt-cache depends --recurse --no-recommends --no-suggests --no-conflicts --no-breaks \
    --no-replaces --no-enhances "${rt_apt[@]}" | grep -v '^ ' | tr -d '<>' | sort -u)
owner() { # the package that installed a library ldd found (merged /usr: try both spellings)
    local f=$1 c
    for c in "$f" "/usr$f" "${f#/usr}" "$(readlink -f "$f")"; do
        dpkg-query -S "$c" 2>/dev/null | head -n 1 | cut -d: -f1 && return 0
    done
    return 1
}
nlibs=0
for b in txscoped txscope; do
    while read -r lib; do
        pkg=$(owner "$lib") || die "$b loads $lib, which no package installed"
        grep -qx "$pkg" <<<"$closure" ||
            die "$b loads $lib from $pkg, which the runtime stage's apt-get install (${rt_apt[*]}) does not bring"
        nlibs=$((nlibs + 1))
    done < <(ldd "$root/usr/bin/$b" | grep -Eo '(=> )?/[^ ]+' | sed 's/^=> //')
done
ok "$nlibs shared libraries of txscoped and txscope all come with: ${rt_apt[*]}"

# --- The image, running -----------------------------------------------------------------
psql -X -q -v ON_ERROR_STOP=1 -d postgres -c "create database $db" >/dev/null
dsn="host=$PGHOST port=$PGPORT user=$PGUSER dbname=$db"
read -r -a free < <("$PY" -c '
import socket
s = [socket.socket() for _ in range(2)]
for x in s: x.bind(("127.0.0.1", 0))
print(" ".join(str(x.getsockname()[1]) for x in s))')
mapfile -t entry <"$tmp/x/entrypoint"
hc=$(cat "$tmp/x/healthcheck")
as_user() { setpriv --reuid=txscope --regid=txscope --init-groups "$@"; }

# The container's environment: what Docker gives (PATH, HOME of the USER), the image's
# ENV, then the deploy file's; the DSN is the test's database, the listen ports are free
# ones (the addresses' hosts are kept), and TXSCOPE_CONFIG is under the staging root.
container_env() { # ENVFILE...
    local -A e=([PATH]="$root/usr/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin" [HOME]=/nonexistent)
    local f k kv
    for f in "$tmp/x/image.env" "$@"; do
        while IFS= read -r kv; do e[${kv%%=*}]=${kv#*=}; done <"$f"
    done
    e[TXSCOPE_DB_MAIN_DSN]=$dsn
    [ -z "${e[TXSCOPE_CONFIG]:-}" ] || e[TXSCOPE_CONFIG]="$root${e[TXSCOPE_CONFIG]}"
    e[TXSCOPE_LISTEN]="${e[TXSCOPE_LISTEN]%:*}:${free[0]}"
    e[TXSCOPE_ADMIN_LISTEN]="${e[TXSCOPE_ADMIN_LISTEN]%:*}:${free[1]}"
    for k in "${!e[@]}"; do printf '%s=%s\n' "$k" "${e[$k]}"; done
}
status() { curl -s -o /dev/null -w '%{http_code}' --max-time 2 "http://127.0.0.1:${free[1]}$1" || true; }
daemon=
start_daemon() { # NAME ENVFILE...: the image's ENTRYPOINT, as its USER
    local name=$1
    shift
    container_env "$@" >"$tmp/$name.env"
    mapfile -t cenv <"$tmp/$name.env"
    # setpriv and env exec, so $! is the daemon (no shell function: that would fork).
    setpriv --reuid=txscope --regid=txscope --init-groups env -i "${cenv[@]}" "${entry[@]}" \
        >"$tmp/$name.log" 2>&1 &
    daemon=$!
    pids+=("$daemon")
    for _ in $(seq 100); do
        kill -0 "$daemon" 2>/dev/null || { cat "$tmp/$name.log" >&2; die "$name: txscoped exited at start"; }
        [ "$(status /healthz)" = 200 ] && break
        sleep 0.1
    done
    [ "$(status /healthz)" = 200 ] || { tail "$tmp/$name.log" >&2; die "$name: /healthz never answered 200"; }
    [ "$(readlink "/proc/$daemon/exe")" = "$root/usr/bin/txscoped" ] ||
        die "$name: ENTRYPOINT ${entry[*]} ran $(readlink "/proc/$daemon/exe"), not the image's"
    local uids
    uids=$(awk '/^Uid:|^Gid:/ {print $2}' "/proc/$daemon/status" | paste -sd:)
    [ "$uids" = "$user" ] || die "$name: txscoped runs as $uids, not $user"
}
healthcheck() { # [VAR]: the Dockerfile's HEALTHCHECK CMD as Docker runs it (sh -c, the
    # container's env, its USER); without VAR in the env when one is named
    local -a hc_env=()
    local kv
    for kv in "${cenv[@]}"; do
        if [ -z "${1:-}" ] || [ "${kv%%=*}" != "$1" ]; then hc_env+=("$kv"); fi
    done
    as_user env -i "${hc_env[@]}" sh -c "$hc" >>"$tmp/healthcheck.log" 2>&1
}
wait_ready() { # PATH: poll until 200, a few seconds at most
    for _ in $(seq 50); do
        [ "$(status "$1")" = 200 ] && return 0
        sleep 0.1
    done
    die "GET $1 answers $(status "$1"), not 200"
}
stop_daemon() { # SIGTERM (STOPSIGNAL): no client is connected, so the drain ends at once
    local name=$1 rc=0
    kill -TERM "$daemon"
    for _ in $(seq 50); do
        kill -0 "$daemon" 2>/dev/null || break
        sleep 0.1
    done
    kill -0 "$daemon" 2>/dev/null && { tail "$tmp/$name.log" >&2; die "$name: txscoped still runs 5 s after SIGTERM"; }
    wait "$daemon" || rc=$?
    [ "$rc" = 0 ] || { tail "$tmp/$name.log" >&2; die "$name: txscoped exited $rc after SIGTERM, not 0"; }
}
run_app() { # NAME SCRIPT ENVFILE: the deploy file's example app until it reports a visit
    local name=$1 script=$2 rc=0
    local -a aenv
    mapfile -t aenv <"$3"
    aenv=("${aenv[@]/#TXSCOPE_ADDRESS=*/TXSCOPE_ADDRESS=127.0.0.1:${free[0]}}")
    env -i "${aenv[@]}" "$PY" -u -c "$(cat "$script")" >"$tmp/$name-app.log" 2>&1 &
    local app=$!
    pids+=("$app")
    for _ in $(seq 100); do
        grep -qs '^visits: [0-9]' "$tmp/$name-app.log" && break
        kill -0 "$app" 2>/dev/null || break
        sleep 0.1
    done
    grep -q '^visits: [0-9]' "$tmp/$name-app.log" || {
        kill "$app" 2>/dev/null
        cat "$tmp/$name-app.log" >&2
        die "$name: the example app reported no visit in 10 s"
    }
    kill -TERM "$app"
    wait "$app" || rc=$?
    [ "$rc" = 0 ] || die "$name: the example app exited $rc on SIGTERM, not 0"
    ok "$name: the example app ran a transaction through txscope ($(grep -m 1 '^visits' "$tmp/$name-app.log")), exits 0 on SIGTERM"
}

echo "== image: txscoped with the image's ENV (${entry[*]} as $user, free ports)"
start_daemon image
ok "image: $(sed -n 's/.*\(txscoped [0-9.]* ready\).*/\1/p' "$tmp/image.log" | head -n 1), uid:gid $user, /healthz 200"
healthcheck || die "image: the HEALTHCHECK failed against a running daemon: $(tail -n 2 "$tmp/healthcheck.log")"
ok "image: HEALTHCHECK exits 0"
wait_ready /readyz
ok "image: /readyz 200 (db reached)"
[ "$(status /metrics)" = 200 ] || die "image: GET /metrics answers $(status /metrics)"
ok "image: /metrics 200"
who=$(as_user env -i "${cenv[@]}" txscope -a "127.0.0.1:${free[0]}" -c image-test \
    -e "select current_database() as db" 2>&1) || die "image: the installed txscope CLI failed: $who"
grep -qw "$db" <<<"$who" || die "image: the CLI's query printed: $who"
ok "image: the installed CLI runs a query through the daemon (current_database() = $db)"
stop_daemon image
ok "image: SIGTERM -> exit 0"
if healthcheck; then die "image: the HEALTHCHECK passes with no daemon running"; fi
ok "image: HEALTHCHECK fails once the daemon is gone"

echo "== image: with deploy/compose.yaml's txscope environment"
start_daemon compose "$tmp/x/compose.env"
grep -q '^TXSCOPE_AUTH_TOKEN=.' "$tmp/compose.env" || die "compose: expected a TXSCOPE_AUTH_TOKEN"
healthcheck || die "compose: the HEALTHCHECK failed with TXSCOPE_AUTH_TOKEN set"
ok "compose: HEALTHCHECK exits 0 with TXSCOPE_AUTH_TOKEN (it says hello with it)"
wait_ready /readyz
run_app compose "$tmp/x/compose_app.py" "$tmp/x/compose_app.env"
stop_daemon compose
ok "compose: SIGTERM -> exit 0"

echo "== image: with deploy/k8s-sidecar.yaml's txscope environment"
start_daemon k8s "$tmp/x/k8s.env"
mapfile -t probes <"$tmp/x/k8s_probes"
wait_ready "${probes[0]}"
[ "$(status "${probes[1]}")" = 200 ] || die "k8s: livenessProbe ${probes[1]} answers $(status "${probes[1]}")"
ok "k8s: readinessProbe ${probes[0]} 200, livenessProbe ${probes[1]} 200"
run_app k8s "$tmp/x/k8s_app.py" "$tmp/x/k8s_app.env"
stop_daemon k8s
ok "k8s: SIGTERM -> exit 0"

echo "== image: with a named token only (TXSCOPE_TOKEN_WEB)"
printf 'TXSCOPE_TOKEN_WEB=image-test-secret\n' >"$tmp/x/named.env"
start_daemon named "$tmp/x/named.env"
healthcheck || die "named: the HEALTHCHECK failed with TXSCOPE_TOKEN_WEB set"
if healthcheck TXSCOPE_TOKEN_WEB; then die "named: the HEALTHCHECK passes without the token"; fi
ok "named: HEALTHCHECK exits 0 with the token of TXSCOPE_TOKEN_WEB, fails without it"
stop_daemon named
ok "named: SIGTERM -> exit 0"
