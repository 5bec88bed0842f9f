# dat-operator worker (GPU): `dat train` on @tensorflow/tfjs-node-gpu.
# Built by scripts/images/build-images.sh worker-gpu, which stages the
# application folder: the CPU worker's files plus the tfjs-node-gpu binding,
# libtensorflow 2.9.1 with CUDA kernels and the CUDA 11.8 / cuDNN 8.9 runtime
# libraries, all from PyPI wheels (scripts/images/stage-gpu-runtime.sh). So no
# CUDA base image is needed: BASE is any glibc image with Node.js 20 on PATH
# and zlib (the project's Debian base, or node:20-bookworm-slim).
# At run time only the NVIDIA driver comes from the node (the NVIDIA container
# toolkit mounts libcuda.so.1 and /dev/nvidia*; request nvidia.com/gpu in the
# pod). Without a GPU, `--backend tensorflow-gpu` exits 2 with one line saying
# what was missing, and `--backend auto` falls back to the CPU.
ARG BASE=node:20-bookworm-slim
FROM ${BASE}
ENV NODE_ENV=production
# What the NVIDIA container toolkit reads (as CUDA base images set them); the
# device plugin narrows the visible devices to the pod's allocation.
ENV NVIDIA_VISIBLE_DEVICES=all NVIDIA_DRIVER_CAPABILITIES=compute,utility
WORKDIR /app
COPY app/ /app/
RUN ln -s /app/bin/dat.js /usr/local/bin/dat
USER 65532:65532
ENTRYPOINT ["dat"]
