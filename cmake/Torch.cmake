# LibTorch: Debian's libtorch-dev (CPU) by default, or any LibTorch given via
# CMAKE_PREFIX_PATH / Torch_DIR, e.g. the CUDA one inside a PyTorch install:
#   cmake -DCMAKE_PREFIX_PATH=$(python3 -c 'import torch;print(torch.utils.cmake_prefix_path)')
find_package(Torch REQUIRED)
# Torch's own headers must not trip our warnings: add them as SYSTEM includes.
set(TOKRL_TORCH_INCLUDES ${TORCH_INCLUDE_DIRS})
