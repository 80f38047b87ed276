{
  "targets": [
    {
      "target_name": "zhiyu_native",
      "sources": ["<!@(node scripts/native-sources.mjs)"],
      "include_dirs": ["<!(node -p \"require('node-addon-api').include_dir\")", "native"],
      "defines": ["NAPI_VERSION=8", "NODE_ADDON_API_DISABLE_CPP_EXCEPTIONS"],
      "cflags": ["-O3", "-fno-strict-aliasing", "-Wall", "-Wno-unused-function", "<!@(node scripts/mpi-flags.mjs cflags)"],
      "cflags_c": ["-std=gnu11"],
      "cflags_cc": ["-O3", "-std=gnu++17"],
      "cflags!": ["-fno-exceptions"],
      "cflags_cc!": ["-fno-exceptions"],
      "libraries": ["-lpthread", "-lm", "<!@(node scripts/mpi-flags.mjs libs)"]
    }
  ]
}
