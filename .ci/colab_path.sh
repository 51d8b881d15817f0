#!/usr/bin/env bash
# The Colab / Kaggle path, executed: a clean virtual environment that gets only what the
# notebooks' install cell installs, aigc_course[course] (here from this checkout instead of git,
# NOT editable, so the notebooks import the installed copy), after the torch pin, plus pytest and
# nbval to run the notebooks. Then the two chapters that broke on Colab (12, 13) run in it, under
# the network guard of notebooks/conftest.py. pip keeps its usual cache (no --no-cache-dir).
#   bash .ci/colab_path.sh          install, then run (AIGC_COLAB_VENV=... chooses the venv's folder)
#   bash .ci/colab_path.sh install  only create and fill the venv (.ci/run does it in the background
#                                   while the main venv installs: both are mostly download and unzip)
#   bash .ci/colab_path.sh run      only run the chapters in the venv made by `install`
set -euo pipefail
what=${1:-all}
cd "$(dirname "$0")/.."
t0=$(date +%s)
venv=${AIGC_COLAB_VENV:-/tmp/aigc_colab_venv}
PY=$(command -v python3.11 || command -v python3)

if [ "$what" != run ]; then
rm -rf "$venv"
"$PY" -m venv "$venv"
pip() { "$venv/bin/python" -m pip install -q "$@"; }
pip --upgrade pip
pip "torch==2.13.0"
# From a clean copy of the checkout's files (what `pip install git+URL` gets: no build/ left here)
src=$(mktemp -d /tmp/aigc_colab_src.XXXXXX)
git ls-files -z --cached --others --exclude-standard \
  | while IFS= read -r -d '' f; do if [ -e "$f" ]; then printf '%s\0' "$f"; fi; done \
  | tar --null -T - -cf - | tar -xf - -C "$src"
pip "$src[course]"
rm -rf "$src"
pip "pytest>=8,<10" "nbval>=0.11,<1"
echo "=== colab path: installed in $(( $(date +%s) - t0 )) s"
fi
[ "$what" = install ] && exit 0

# The notebooks must use the installed package, not this checkout's aigc_course/ folder.
(cd /tmp && "$venv/bin/python" -c "import aigc_course, sys; f = aigc_course.__file__; \
print('aigc_course from', f); sys.exit('site-packages' not in f)")

# AIGC_BOOK_CACHE=0: these runs do not replace the book's cached outputs (the book may be reading them)
AIGC_PROFILE=fast AIGC_BOOK_CACHE=0 OMP_NUM_THREADS=${OMP_NUM_THREADS:-${AIGC_THREADS:-2}} \
  "$venv/bin/python" -m pytest -q \
  -p no:randomly notebooks/12_tts_lab.ipynb notebooks/13_applications.ipynb
rm -rf "$venv"  # 3.4 GB
echo "=== colab path: done in $(( $(date +%s) - t0 )) s"
