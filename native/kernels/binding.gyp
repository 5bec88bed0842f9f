{
  "targets": [
    {
      "target_name": "dat_kernels",
      "sources": ["kernels.c"],
      "cflags": ["-O3", "-std=c11", "-ffp-contract=off", "-fno-fast-math", "-Wall", "-Wextra"]
    }
  ]
}
