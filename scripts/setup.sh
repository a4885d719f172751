#!/usr/bin/env bash
# Firesweep bootstrap: scripts/setup.sh [run|test]
#
#   run   Debian packages for serving (fonts, HarfBuzz subsetting, poppler) + runtime venv
#   test  the same plus chromium and requirements-dev.txt
#
# Idempotent and quick the second time: apt is skipped when dpkg says every package is
# installed, pip is skipped when .venv/.firesweep-<mode>.stamp matches the sha256 of the
# requirements files (and the interpreter). Never runs `playwright install`: browser tests
# drive Debian's /usr/bin/chromium.
#
# Environment knobs (mostly for testing this script):
#   FIRESWEEP_EXTRA_DEB="pkg ..."  extra Debian packages to require
#   FIRESWEEP_NO_APT=1             never install Debian packages, only report missing ones
#   FIRESWEEP_PYTHON=/path/python  interpreter for the venv (must be 3.11)
#   FIRESWEEP_VENV=.venv           where the virtualenv lives (relative to the repo root)
set -euo pipefail

mode=${1:-run}
case "$mode" in
  run|test) ;;
  *) echo "usage: scripts/setup.sh [run|test]" >&2; exit 2 ;;
esac

cd "$(dirname "${BASH_SOURCE[0]}")/.."
VENV=${FIRESWEEP_VENV:-.venv}

say() { echo "firesweep: $*"; }
die() { echo "firesweep: $*" >&2; exit 1; }

# --------------------------------------------------------------------------- Debian
deb_packages=(fonts-noto-cjk libharfbuzz-subset0 poppler-utils fontconfig
              libpango-1.0-0 libpangoft2-1.0-0)
[ "$mode" = test ] && deb_packages+=(chromium)
# shellcheck disable=SC2206
[ -n "${FIRESWEEP_EXTRA_DEB:-}" ] && deb_packages+=(${FIRESWEEP_EXTRA_DEB})

missing=()
for pkg in "${deb_packages[@]}"; do
  status=$(dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null || true)
  [ "$status" = "install ok installed" ] || missing+=("$pkg")
done

if [ ${#missing[@]} -gt 0 ]; then
  sudo_cmd=()
  can_install=no
  if [ "${FIRESWEEP_NO_APT:-0}" != 1 ] && command -v apt-get >/dev/null 2>&1; then
    if [ "$(id -u)" = 0 ]; then
      can_install=yes
    elif command -v sudo >/dev/null 2>&1 && sudo -n true >/dev/null 2>&1; then
      can_install=yes; sudo_cmd=(sudo -n)
    fi
  fi
  if [ $can_install = no ]; then
    die "missing Debian packages: ${missing[*]} — install them with: sudo apt-get install ${missing[*]}"
  fi
  apt_log=$(mktemp "${TMPDIR:-/tmp}/firesweep-apt.XXXXXX.log")
  say "installing Debian packages: ${missing[*]} (log: $apt_log)"
  apt_opts=(-o DPkg::Lock::Timeout=300 -o Acquire::Retries=3)
  if ! "${sudo_cmd[@]}" env DEBIAN_FRONTEND=noninteractive \
        apt-get "${apt_opts[@]}" update >>"$apt_log" 2>&1; then
    tail -n 5 "$apt_log" >&2
    die "apt-get update failed (see $apt_log); install by hand: sudo apt-get install ${missing[*]}"
  fi
  if ! "${sudo_cmd[@]}" env DEBIAN_FRONTEND=noninteractive \
        apt-get "${apt_opts[@]}" install -y --no-install-recommends "${missing[@]}" \
        >>"$apt_log" 2>&1; then
    tail -n 5 "$apt_log" >&2
    die "could not install Debian packages: ${missing[*]} (see $apt_log)"
  fi
  rm -f "$apt_log"
fi

# --------------------------------------------------------------------------- venv
is_py311() { "$1" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))' >/dev/null 2>&1; }

if [ -x "$VENV/bin/python" ] && ! is_py311 "$VENV/bin/python"; then
  say "$VENV is broken or not Python 3.11; recreating it"
  rm -rf "$VENV"
fi

if [ ! -x "$VENV/bin/python" ]; then
  py=""
  for cand in ${FIRESWEEP_PYTHON:-} python3.11 python3; do
    if command -v "$cand" >/dev/null 2>&1 && is_py311 "$cand"; then py=$cand; break; fi
  done
  [ -n "$py" ] || die "Python 3.11 not found (tried python3.11 and python3) — install it with: sudo apt-get install python3.11 python3.11-venv"
  if ! "$py" -m venv "$VENV" >/dev/null 2>&1; then
    rm -rf "$VENV"
    die "could not create a virtualenv with $py — install it with: sudo apt-get install python3.11-venv"
  fi
fi

# --------------------------------------------------------------------------- pip
if [ "$mode" = test ]; then req_files=(requirements.txt requirements-dev.txt); else req_files=(requirements.txt); fi
key=$( { cat "${req_files[@]}"; "$VENV/bin/python" -VV; } | sha256sum | cut -d' ' -f1)
stamp="$VENV/.firesweep-$mode.stamp"

if [ "$(cat "$stamp" 2>/dev/null || true)" != "$key" ]; then
  say "installing Python packages from ${req_files[-1]} (about a minute the first time)"
  pip_log=$(mktemp "${TMPDIR:-/tmp}/firesweep-pip.XXXXXX.log")
  set +e
  PIP_DISABLE_PIP_VERSION_CHECK=1 PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 \
    "$VENV/bin/python" -m pip install --quiet -r "${req_files[-1]}" >"$pip_log" 2>&1
  rc=$?
  set -e
  # this image's pip configuration names file:// indexes that do not exist: drop that noise
  grep -v -E "^WARNING: Location '.*' is ignored" "$pip_log" || true
  rm -f "$pip_log"
  [ $rc = 0 ] || die "pip install -r ${req_files[-1]} failed (exit $rc)"
  echo "$key" >"$stamp"
  if [ "$mode" = test ]; then
    # the dev requirements include the runtime ones: `run` needs no pip now
    { cat requirements.txt; "$VENV/bin/python" -VV; } | sha256sum | cut -d' ' -f1 >"$VENV/.firesweep-run.stamp"
  fi
fi

# --------------------------------------------------------------------------- guards
if ! "$VENV/bin/python" -W ignore::DeprecationWarning \
     -c "from weasyprint.text.ffi import harfbuzz_subset; assert harfbuzz_subset" >/dev/null 2>&1; then
  die "WeasyPrint cannot load HarfBuzz subsetting (Chinese PDFs would take ~30 s each) — install it with: sudo apt-get install libharfbuzz-subset0"
fi

if ! fc-list :lang=zh family 2>/dev/null | grep -q "Noto Sans CJK SC"; then
  die "fontconfig finds no Noto Sans CJK SC font — install it with: sudo apt-get install fonts-noto-cjk fontconfig (then run fc-cache -f)"
fi

if [ "$mode" = test ] && [ ! -x /usr/bin/chromium ]; then
  die "/usr/bin/chromium is missing — install it with: sudo apt-get install chromium"
fi

exit 0
