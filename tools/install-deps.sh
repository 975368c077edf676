#!/bin/sh
# Installs what fmviz needs on Debian/Ubuntu: to build (compiler, CMake, Eigen, nlohmann/json, stb, libjpeg, libpng),
# to run the examples on real photos, and to test (Catch2, PyTorch as the reference, Chromium, Clang, valgrind, and
# Slurm with MUNGE: tests/slurm starts a one-node cluster to run tools/slurm's array job; the packages' services are
# not used, the test runs its own daemons).
# --print lists the packages instead of installing them.
set -e
packages="g++ clang cmake make pkg-config libomp-dev libeigen3-dev nlohmann-json3-dev libstb-dev libjpeg-dev libpng-dev catch2 valgrind \
python3 python3-numpy python3-pil python3-torch python3-torchvision python-matplotlib-data python3-skimage chromium \
slurmctld slurmd slurm-client munge"
if [ "${1:-}" = "--print" ]; then
  # shellcheck disable=SC2086
  echo $packages
  exit 0
fi
if [ "$(id -u)" -eq 0 ]; then sudo=""; else sudo="sudo"; fi
$sudo apt-get update
# shellcheck disable=SC2086
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y $packages
