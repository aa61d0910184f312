#!/usr/bin/env bash
# Set up everything the tests need on a Debian machine, then run ruff and pytest.
#
#   bash tools/setup_and_test.sh [pytest arguments]
#
# 1. Debian packages for napari's OpenGL canvas under a virtual X server (Xvfb,
#    Mesa, the xcb libraries Qt loads): apt-get installs only the missing ones
#    (through sudo when not root).
# 2. A CPU-only torch and torchvision when torch is not installed yet (no CUDA
#    stack); install a CUDA torch before this script to test with one. When no CPU
#    build of torchvision can be had (PyTorch's CPU index unreachable), PyPI's
#    torch and torchvision (CUDA builds) are used, as suite2p's cellpose needs them.
# 3. The package with every extra (pip install -e ".[all]"), ruff, then pytest
#    under xvfb-run.
# .ci/run runs exactly this script; README.md names it as the test command.
set -euo pipefail
cd "$(dirname "$0")/.."

DEBIAN_PACKAGES=(
  xvfb xauth libgl1-mesa-dri libglx-mesa0 libegl1 libxkbcommon-x11-0 libxcb-icccm4
  libxcb-image0 libxcb-keysyms1 libxcb-randr0 libxcb-render-util0 libxcb-xinerama0
  libxcb-xfixes0 libxcb-shape0 libxcb-cursor0 libdbus-1-3
)
# CPU builds of torch and of the torchvision that suite2p's cellpose needs, from PyTorch's
# CPU wheel index (PyPI's Linux wheels of torch are CUDA builds); their dependencies come
# with the package install below, which keeps the installed torch.
TORCH_CPU=(--no-deps "torch==2.13.*" "torchvision==0.28.*"
  --index-url https://download.pytorch.org/whl/cpu)

missing=()
if command -v dpkg-query >/dev/null 2>&1; then
  for pkg in "${DEBIAN_PACKAGES[@]}"; do
    if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed"; then
      missing+=("$pkg")
    fi
  done
elif ! command -v xvfb-run >/dev/null 2>&1; then
  echo "setup_and_test.sh: no dpkg and no xvfb-run: install Xvfb and Mesa (OpenGL)" \
    "with your system's package manager, then run this script again." >&2
  exit 1
fi
if ((${#missing[@]})); then
  sudo=()
  if [ "$(id -u)" != 0 ]; then sudo=(sudo); fi
  echo "setup_and_test.sh: installing Debian packages: ${missing[*]}"
  "${sudo[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq --no-install-recommends \
    "${missing[@]}" >/dev/null
fi

if ! python -c "import torch" >/dev/null 2>&1; then
  echo "setup_and_test.sh: installing a CPU-only torch and torchvision"
  python -m pip install "${TORCH_CPU[@]}"
elif python -c "import torch, sys; sys.exit('+cpu' not in torch.__version__)" \
  && ! python -c "import torchvision" >/dev/null 2>&1; then
  # a CPU torch without torchvision: add the matching CPU torchvision (torch 2.N pairs
  # with torchvision 0.(N+15)), or pip would replace torch with a CUDA build for cellpose
  tv=$(python -c "import torch; print(f'0.{int(torch.__version__.split(\".\")[1]) + 15}.*')")
  echo "setup_and_test.sh: installing the CPU torchvision $tv that matches the installed torch"
  python -m pip install --no-deps "torchvision==$tv" --index-url https://download.pytorch.org/whl/cpu
fi
if python -m pip show torchvision >/dev/null 2>&1 && ! python -c "import torchvision" >/dev/null 2>&1
then
  # e.g. PyTorch's CPU index unreachable: pip took PyPI's torchvision, a CUDA build that
  # does not load next to a CPU torch. Let pip install PyPI's matching pair instead.
  echo "setup_and_test.sh: torchvision does not load next to this torch (no CPU build of it" \
    "was reachable); installing PyPI's torch and torchvision (CUDA builds) instead" >&2
  python -m pip uninstall -y -q torch torchvision
fi
python -m pip install -e ".[all]"
python -m ruff check .
xvfb-run -a python -m pytest -q "$@"
