{
  "targets": [
    {
      "target_name": "dat_codecs",
      "sources": ["codecs.c"],
      "cflags": ["-O3", "-std=c11", "-ffp-contract=off", "-fno-fast-math", "-Wall", "-Wextra"]
    }
  ]
}
